package worker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Delivery is one delivered event message.
type Delivery struct {
	Msg       jetstream.Msg
	Meta      *jetstream.MsgMetadata
	Partition string
	// Key orders deliveries: events with one key (one incident) are handled
	// one at a time, in stream order.
	Key string
	// Tenant and Incident as the subject names them ("" when it does not).
	Tenant, Incident string
	// dlqTenant and dlqIncident, once the event is read, name its DLQ subject.
	dlqTenant, dlqIncident string
	eventID                string
}

// Handler handles one delivery and says what becomes of it. It does not ack:
// settle does, once, from the Result.
type Handler func(ctx context.Context, d *Delivery) Result

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Chain applies middleware so that the first is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Recover turns a panic in the handler into a dead letter (with the stack in
// the log): a bug must not lose the event or crash the worker.
func Recover(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) (r Result) {
			defer func() {
				if p := recover(); p != nil {
					log.Error("handler panic", "subject", d.Msg.Subject(), "panic", p, "stack", string(debug.Stack()))
					r = dead("panic", fmt.Errorf("panic: %v", p))
				}
			}()
			return next(ctx, d)
		}
	}
}

// Timeout bounds one handling; a handling cut short is retried.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, del *Delivery) Result {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			r := next(ctx, del)
			if ctx.Err() != nil && r.Verdict != Ack && r.Verdict != Skip {
				return Result{Verdict: Retry, Reason: "timeout", Err: fmt.Errorf("handling took longer than %v", d)}
			}
			return r
		}
	}
}

// Exhausted dead-letters, without handling it, an event delivered more than
// max times. The consumer itself redelivers without limit (MaxDeliver -1), so
// an event is never dropped by JetStream: deliveries used up by crashes, ack
// timeouts or a dead letter that could not be stored end here, in the DLQ.
func Exhausted(max int) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) Result {
			if n := d.Meta.NumDelivered; n > uint64(max) {
				d.dlqTenant, d.dlqIncident = d.Tenant, d.Incident
				return dead("retries_exhausted", fmt.Errorf("delivered %d times, more than the limit of %d: earlier deliveries were not settled (a crash, an ack timeout) or their dead letter was not stored", n, max))
			}
			return next(ctx, d)
		}
	}
}
