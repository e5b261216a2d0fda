package consume

import "time"

// Verdict is what becomes of a delivered event.
type Verdict int

// The verdicts, and how settle carries each out.
const (
	// Ack: handled (every planned action done or recorded failed for good).
	Ack Verdict = iota
	// Skip: acknowledged without acting (a stale event, a replay already
	// handled).
	Skip
	// Retry: a retryable failure; NakWithDelay after Delay (or the backoff),
	// while the retry budget lasts.
	Retry
	// Release: not handled here and no failure (the partition went to
	// another replica, the worker shuts down): Nak at once, no budget spent.
	Release
	// DeadLetter: the event goes to the dead-letter subject with the
	// reason, then is terminated.
	DeadLetter
)

func (v Verdict) String() string {
	return [...]string{"ack", "skip", "retry", "release", "dead_letter"}[v]
}

// Result is the outcome of handling one delivery.
type Result struct {
	Verdict Verdict
	// Delay is how long until redelivery for Retry (0: the backoff).
	Delay time.Duration
	// Reason is short and machine-readable ("malformed", "graph_unavailable",
	// "stale"): the dead letter's header and the metrics label.
	Reason string
	// Err is what happened, for the dead letter and the logs.
	Err error
	// Outcome overrides the metrics outcome label (dry_run).
	Outcome string
}

// Acked is the Result of an event handled.
func Acked() Result { return Result{Verdict: Ack} }

// Skipped is the Result of an event acknowledged without acting.
func Skipped(reason string) Result { return Result{Verdict: Skip, Reason: reason} }

// Dead is the Result of a permanent failure.
func Dead(reason string, err error) Result {
	return Result{Verdict: DeadLetter, Reason: reason, Err: err}
}

// outcome is the events_total label of the result.
func (r Result) outcome() string {
	switch {
	case r.Outcome != "":
		return r.Outcome
	case r.Verdict == Skip:
		return "skipped_" + r.Reason
	case r.Verdict == Retry:
		return "retried"
	case r.Verdict == Release:
		return "released"
	case r.Verdict == DeadLetter:
		return "dead_lettered"
	}
	return "acked"
}
