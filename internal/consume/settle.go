package consume

import (
	"context"
	"math/rand/v2"
	"time"
)

// Settlement describes a settled event, for the demo and the load test.
type Settlement struct {
	Subject   string
	EventID   string // "" when the event could not be read
	Tenant    string // "" when the event could not be read
	Incident  string
	Outcome   string // acked, skipped_*, retried, released, dead_lettered, dry_run
	Reason    string
	Err       error
	Published time.Time // when JetStream stored the event
	Settled   time.Time
}

// settle carries out a Result: exactly one of Ack, Nak, NakWithDelay or
// (after the dead letter is stored) Term. It reports whether the event is
// left for redelivery here (a retry), which holds its key's later events.
func (c *Consumer) settle(d *Delivery, r Result) (pending bool) {
	// Settlement must finish even while the worker shuts down.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r.Verdict == DeadLetter {
		if err := c.publishDeadLetter(ctx, d, r); err != nil {
			// Never terminate an event that is not safely in the dead-letter
			// stream: it comes back and is stored then.
			c.log.Error("dead letter not stored; retrying later", "subject", d.Msg.Subject(), "reason", r.Reason, "err", err)
			r = Result{Verdict: Retry, Reason: "dead_letter_not_stored", Err: err}
		} else {
			c.metrics.DeadLetters.WithLabelValues(r.Reason).Inc()
			c.log.Warn("event dead-lettered", "subject", d.Msg.Subject(), "seq", d.Seq(), "reason", r.Reason, "err", errString(r.Err))
		}
	}
	c.metrics.Events.WithLabelValues(r.outcome()).Inc()
	c.metrics.EventLatency.Observe(c.now().Sub(d.Meta.Timestamp).Seconds())
	if c.opts.OnSettled != nil {
		defer c.opts.OnSettled(Settlement{Subject: d.Msg.Subject(), EventID: d.EventID, Tenant: d.DLQTenant, Incident: d.DLQIncident,
			Outcome: r.outcome(), Reason: r.Reason, Err: r.Err, Published: d.Meta.Timestamp, Settled: c.now()})
	}
	var err error
	switch r.Verdict {
	case Ack, Skip:
		err = d.Msg.Ack()
	case Release:
		err = d.Msg.Nak()
	case Retry:
		delay := r.Delay
		if delay <= 0 {
			delay = c.backoff(int(d.Meta.NumDelivered))
		}
		// Graph may ask for longer; the key's later events wait so long.
		delay = min(delay, c.opts.RetryMax)
		c.log.Info("event retry", "subject", d.Msg.Subject(), "seq", d.Seq(), "delivery", d.Meta.NumDelivered,
			"reason", r.Reason, "err", errString(r.Err), "delay", delay)
		err = d.Msg.NakWithDelay(delay)
		pending = true
	case DeadLetter:
		err = d.Msg.TermWithReason(r.Reason)
	}
	if err != nil {
		c.log.Warn("settle failed; the event comes back after the ack wait", "subject", d.Msg.Subject(), "verdict", r.Verdict.String(), "err", err)
	}
	return pending
}

// backoff is the redelivery delay without a Retry-After: RetryBase·2^(n-1)
// with ±20% jitter, at most RetryMax.
func (c *Consumer) backoff(delivery int) time.Duration {
	d := c.opts.RetryBase << min(max(delivery-1, 0), 16)
	if d > c.opts.RetryMax || d <= 0 {
		d = c.opts.RetryMax
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
