package worker

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/graph"
)

// Verdict is what becomes of a delivered event.
type Verdict int

// The verdicts.
const (
	// Ack: every planned action succeeded or was recorded.
	Ack Verdict = iota
	// Skip: acknowledged without acting (a stale event).
	Skip
	// Retry: a retryable failure; the event is redelivered after Delay
	// (NakWithDelay), or dead-lettered once its deliveries are exhausted.
	Retry
	// DeadLetter: a permanent failure; the event goes to the dead-letter
	// subject with the reason, then is terminated.
	DeadLetter
)

// Result is the outcome of handling one delivery.
type Result struct {
	Verdict Verdict
	Delay   time.Duration // Retry: how long until redelivery (0: backoff)
	Reason  string        // short machine-readable reason ("malformed", "graph_unavailable", ...)
	Err     error         // what happened, for the DLQ header and logs
	// Outcome overrides the metrics outcome label (dry_run).
	Outcome string
}

func ack() Result               { return Result{Verdict: Ack} }
func skip(reason string) Result { return Result{Verdict: Skip, Reason: reason} }
func dead(reason string, err error) Result {
	return Result{Verdict: DeadLetter, Reason: reason, Err: err}
}

// retry classifies a failure once: retryable Graph errors (and NATS
// hiccups) are retried after Graph's Retry-After or a backoff; everything
// else is permanent.
func retryOrDead(reason string, err error) Result {
	var ge *graph.Error
	if errors.As(err, &ge) {
		if ge.Retryable() {
			return Result{Verdict: Retry, Delay: ge.RetryAfter, Reason: reason, Err: err}
		}
		return dead(reason, err)
	}
	if isTransient(err) {
		return Result{Verdict: Retry, Reason: reason, Err: err}
	}
	return dead(reason, err)
}

// isTransient recognises NATS and context failures that a later attempt may
// not meet.
func isTransient(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, errNATS) ||
		errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, errBusy)
}

var (
	// errNATS marks a failed NATS operation (key-value, publish): retryable.
	errNATS = errors.New("nats")
	// errBusy: another replica is writing the same effect right now.
	errBusy = errors.New("effect in progress elsewhere")
)

func (r Result) outcome() string {
	if r.Outcome != "" {
		return r.Outcome
	}
	switch r.Verdict {
	case Skip:
		return "skipped_" + r.Reason
	case Retry:
		return "retried"
	case DeadLetter:
		return "dead_lettered"
	}
	return "acked"
}
