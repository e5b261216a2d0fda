package consume_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/consume"
)

// retryable is an error that says it is worth retrying, after a delay.
type retryable struct {
	ok    bool
	after time.Duration
}

func (e retryable) Error() string                    { return fmt.Sprintf("retryable=%v", e.ok) }
func (e retryable) Retryable() bool                  { return e.ok }
func (e retryable) RetryDelay() time.Duration        { return e.after }
func wrap(err error) error                           { return fmt.Errorf("patch incident 4211: %w", err) }
func verdictOf(reason string, err error) string      { return consume.Decide(reason, err).Verdict.String() }
func reasonOf(reason string, err error) string       { return consume.Decide(reason, err).Reason }
func delayOf(reason string, err error) time.Duration { return consume.Decide(reason, err).Delay }

func TestDecideIsTheOneTable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, verdict, reason string
		err                   error
		delay                 time.Duration
	}{
		{"nil", "ack", "", nil, 0},
		{"handover", "release", "released", wrap(context.Canceled), 0},
		{"deadline", "retry", "timeout", wrap(context.DeadlineExceeded), 0},
		{"graph 429", "retry", "patch", wrap(retryable{ok: true, after: 7 * time.Second}), 7 * time.Second},
		{"graph 400", "dead_letter", "patch", wrap(retryable{ok: false}), 0},
		{"nats hiccup", "retry", "state", consume.Transient(errors.New("nats: timeout")), 0},
		{"permanent wins over retryable", "dead_letter", "future_version", consume.Permanent("future_version", wrap(retryable{ok: true})), 0},
		{"a reason travels with the error", "retry", "incident_not_found", consume.Because("incident_not_found", retryable{ok: true}), 0},
		{"unknown error", "dead_letter", "plan", errors.New("boom"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reason := "patch"
			switch tt.name {
			case "nats hiccup":
				reason = "state"
			case "unknown error":
				reason = "plan"
			}
			if got := verdictOf(reason, tt.err); got != tt.verdict {
				t.Errorf("verdict %s, want %s", got, tt.verdict)
			}
			if tt.err != nil {
				if got := reasonOf(reason, tt.err); got != tt.reason {
					t.Errorf("reason %q, want %q", got, tt.reason)
				}
			}
			if got := delayOf(reason, tt.err); got != tt.delay {
				t.Errorf("delay %v, want %v", got, tt.delay)
			}
		})
	}
}
