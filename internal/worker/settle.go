package worker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graphsoar/graphsoar/internal/broker"
)

// settle turns a Result into exactly one of Ack, NakWithDelay or (after the
// dead letter is stored) Term, and reports whether the event is left pending
// for redelivery (which holds back later events of its incident).
func (w *Worker) settle(d *Delivery, r Result) (pending bool) {
	// Settlement must finish even while the worker shuts down.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r.Verdict == Retry && int(d.Meta.NumDelivered) >= w.topo.MaxDeliver {
		r = dead("retries_exhausted", fmt.Errorf("%d deliveries, last: %s: %w", d.Meta.NumDelivered, r.Reason, r.Err))
	}
	w.outcomeCounter(r.outcome()).Inc()
	w.metrics.EventLatency.Observe(w.now().Sub(d.Meta.Timestamp).Seconds())
	if w.opts.OnSettled != nil {
		defer w.opts.OnSettled(Settlement{Subject: d.Msg.Subject(), EventID: d.eventID, Tenant: d.dlqTenant, Incident: d.dlqIncident,
			Outcome: r.outcome(), Reason: r.Reason, Err: r.Err, Published: d.Meta.Timestamp, Settled: w.now()})
	}
	switch r.Verdict {
	case Ack, Skip:
		if err := d.Msg.Ack(); err != nil {
			w.log.Warn("ack failed; the event will be redelivered and handled idempotently", "subject", d.Msg.Subject(), "err", err)
		}
		return false
	case Retry:
		delay := r.Delay
		if delay <= 0 {
			delay = w.backoff(int(d.Meta.NumDelivered))
		}
		// Graph may ask for longer; the incident's lane is held only so long.
		delay = min(delay, w.opts.RetryMax)
		w.log.Info("event retry", "subject", d.Msg.Subject(), "seq", d.Meta.Sequence.Stream, "delivery", d.Meta.NumDelivered,
			"reason", r.Reason, "err", errString(r.Err), "delay", delay)
		if err := d.Msg.NakWithDelay(delay); err != nil {
			w.log.Warn("nak failed; the event will be redelivered after the ack wait", "subject", d.Msg.Subject(), "err", err)
		}
		return true
	}
	// DeadLetter.
	if err := w.publishDeadLetter(ctx, d, r); err != nil {
		// Never terminate an event that is not safely in the dead-letter
		// stream: redelivered (the consumer has no delivery limit), it comes
		// back to Exhausted or to the same failure and is stored then.
		w.log.Error("dead letter not stored; retrying later", "subject", d.Msg.Subject(), "reason", r.Reason, "err", err)
		_ = d.Msg.NakWithDelay(w.backoff(int(d.Meta.NumDelivered)))
		return true
	}
	w.metrics.DeadLetters.WithLabelValues(r.Reason).Inc()
	w.log.Warn("event dead-lettered", "subject", d.Msg.Subject(), "seq", d.Meta.Sequence.Stream, "reason", r.Reason, "err", errString(r.Err))
	if err := d.Msg.TermWithReason(r.Reason); err != nil {
		w.log.Warn("term failed; the event will be redelivered", "subject", d.Msg.Subject(), "err", err)
	}
	return false
}

// backoff is the redelivery delay without a Retry-After: RetryBase·2^(n-1)
// with ±20% jitter, at most RetryMax.
func (w *Worker) backoff(delivery int) time.Duration {
	d := w.opts.RetryBase << min(max(delivery-1, 0), 16)
	if d > w.opts.RetryMax || d <= 0 {
		d = w.opts.RetryMax
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// Dead-letter headers.
const (
	HeaderReason       = "Graphsoar-Reason"
	HeaderError        = "Graphsoar-Error"
	HeaderDeliveries   = "Graphsoar-Deliveries"
	HeaderStream       = "Graphsoar-Stream"
	HeaderStreamSeq    = "Graphsoar-Stream-Seq"
	HeaderSubject      = "Graphsoar-Subject"
	HeaderDeadLettered = "Graphsoar-Dead-Lettered"
)

// DeadLetterSubject is graphsoar.dlq.<tenant>.<incident>, or
// graphsoar.dlq.unknown when the event does not say.
func DeadLetterSubject(tenant, incidentID string) string {
	if tenant == "" || incidentID == "" {
		return "graphsoar.dlq.unknown"
	}
	return "graphsoar.dlq." + broker.SubjectToken(tenant) + "." + broker.SubjectToken(incidentID)
}

// publishDeadLetter stores the original message (body and headers) on the
// dead-letter subject with the reason, the error and the delivery count in
// headers, and waits for JetStream to acknowledge it.
func (w *Worker) publishDeadLetter(ctx context.Context, d *Delivery, r Result) error {
	// The incident is named only once the event was read (the contract:
	// graphsoar.dlq.unknown otherwise).
	m := nats.NewMsg(DeadLetterSubject(d.dlqTenant, d.dlqIncident))
	m.Data = d.Msg.Data()
	for k, v := range d.Msg.Headers() {
		m.Header[k] = v
	}
	m.Header.Set(HeaderReason, r.Reason)
	m.Header.Set(HeaderError, truncate(errString(r.Err), 4000))
	m.Header.Set(HeaderDeliveries, strconv.FormatUint(d.Meta.NumDelivered, 10))
	m.Header.Set(HeaderStream, d.Meta.Stream)
	m.Header.Set(HeaderStreamSeq, strconv.FormatUint(d.Meta.Sequence.Stream, 10))
	m.Header.Set(HeaderSubject, d.Msg.Subject())
	m.Header.Set(HeaderDeadLettered, w.now().UTC().Format(time.RFC3339Nano))
	// A redelivered event dead-lettered twice is stored once.
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dlq:%s:%d", d.Meta.Stream, d.Meta.Sequence.Stream))
	_, err := w.js.PublishMsg(ctx, m)
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// outcomeCounter returns the events counter of an outcome, cached for the
// common ones.
func (w *Worker) outcomeCounter(outcome string) prometheus.Counter {
	switch outcome {
	case "acked":
		return w.acked
	case "skipped_stale":
		return w.skipped
	}
	return w.metrics.Events.WithLabelValues(outcome)
}
