package consume

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Decide is the one table from an error to a verdict. Settle, the worker's
// audit labels (pending or failed) and the Timeout middleware all use it:
//
//	error                                         verdict      reason
//	nil                                           Ack
//	context.Canceled (handover, shutdown)         Release      released
//	context.DeadlineExceeded (handling too long)  Retry        timeout
//	Permanent(reason, err)                        DeadLetter   reason
//	Retryable() true (Graph 429/5xx/auth, ...)    Retry        given (after RetryDelay())
//	Transient(err) (a NATS or store hiccup)       Retry        given
//	anything else                                 DeadLetter   given
//
// The given reason labels the failure unless the error carries its own
// (Because).
func Decide(reason string, err error) Result {
	if err == nil {
		return Acked()
	}
	if r, ok := reasonOf(err); ok {
		reason = r
	}
	var retryable interface{ Retryable() bool }
	var after interface{ RetryDelay() time.Duration }
	var perm *permanentError
	switch {
	case errors.As(err, &perm):
		return Dead(reason, err)
	case errors.Is(err, context.Canceled):
		return Result{Verdict: Release, Reason: "released", Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return Result{Verdict: Retry, Reason: "timeout", Err: err}
	case errors.As(err, &retryable) && retryable.Retryable(), errors.Is(err, errTransient):
		r := Result{Verdict: Retry, Reason: reason, Err: err}
		if errors.As(err, &after) {
			r.Delay = after.RetryDelay()
		}
		return r
	}
	return Dead(reason, err)
}

// errTransient marks a failure a later attempt may not meet.
var errTransient = errors.New("transient")

// Transient marks err as worth retrying (a NATS or store hiccup, another
// replica at work on the same write).
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (%w)", err, errTransient)
}

// permanentError marks a failure no retry can mend.
type permanentError struct {
	reason string
	err    error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a permanent failure with its dead-letter reason,
// whatever it wraps (a retryable Graph error included).
func Permanent(reason string, err error) error { return &permanentError{reason: reason, err: err} }

// reasonError attaches a reason to an error without deciding its verdict.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// Because labels err with a machine-readable reason (incident_not_found,
// future_version): the dead letter's header and the metrics label, whatever
// the verdict.
func Because(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &reasonError{reason: reason, err: err}
}

func reasonOf(err error) (string, bool) {
	var p *permanentError
	if errors.As(err, &p) {
		return p.reason, true
	}
	var r *reasonError
	if errors.As(err, &r) {
		return r.reason, true
	}
	return "", false
}
