package consume

import (
	"context"
	"fmt"
	"time"
)

// Timeout bounds one handling. A handling cut short by its deadline is
// retried, one cut short by the partition's end (handover, shutdown) is
// released; both through Decide.
func Timeout(limit time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(parent context.Context, d *Delivery) Result {
			ctx, cancel := context.WithTimeout(parent, limit)
			defer cancel()
			r := next(ctx, d)
			if r.Verdict == Ack || r.Verdict == Skip || ctx.Err() == nil {
				return r
			}
			if err := parent.Err(); err != nil {
				return Decide(r.Reason, err)
			}
			return Decide(r.Reason, fmt.Errorf("handling took longer than %v: %w", limit, context.DeadlineExceeded))
		}
	}
}
