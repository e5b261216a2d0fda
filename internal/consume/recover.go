package consume

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// Recover turns a panic in the handler into a dead letter (with the stack in
// the log): a bug must neither lose the event nor crash the worker.
func Recover(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) (r Result) {
			defer func() {
				if p := recover(); p != nil {
					log.Error("handler panic", "subject", d.Msg.Subject(), "seq", d.Seq(), "panic", p, "stack", string(debug.Stack()))
					r = Dead("panic", fmt.Errorf("panic: %v", p))
				}
			}()
			return next(ctx, d)
		}
	}
}
