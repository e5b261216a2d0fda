package consume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/graphsoar/graphsoar/internal/kv"
)

// Exhaust decides, in one place, when an event has been tried long enough:
//
//   - before handling, an event delivered more than maxDeliveries times
//     (crash loops, ack timeouts: deliveries that never reached a verdict)
//     goes to the dead-letter subject without being handled;
//   - after handling, a Retry of an event that has been failing for longer
//     than budget, counted from its first retried failure, becomes a dead
//     letter with reason retries_exhausted. Releases (handover, shutdown)
//     spend nothing.
//
// The time of the first failure is kept in store under attempt.<stream>.<seq>
// and forgotten when the event is settled otherwise. When the store cannot
// be read the event is retried, never dead-lettered for that.
func Exhaust(store kv.Store, budget time.Duration, maxDeliveries int, now func() time.Time) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) Result {
			if n := d.Meta.NumDelivered; maxDeliveries > 0 && n > uint64(maxDeliveries) {
				d.DLQTenant, d.DLQIncident = d.Tenant, d.Incident
				return Dead("retries_exhausted", fmt.Errorf("delivered %d times, more than the limit of %d: earlier deliveries were not settled (a crash, an ack timeout) or their dead letter was not stored", n, maxDeliveries))
			}
			r := next(ctx, d)
			key := attemptKey(d)
			if r.Verdict != Retry {
				if r.Verdict != Release && d.Meta.NumDelivered > 1 {
					_ = store.Delete(context.WithoutCancel(ctx), key, 0)
				}
				return r
			}
			first, err := firstFailure(context.WithoutCancel(ctx), store, key, now())
			if err != nil {
				return r
			}
			if failing := now().Sub(first); failing > budget {
				return Dead("retries_exhausted", fmt.Errorf("failing since %s (%v, budget %v), last: %s: %w",
					first.UTC().Format(time.RFC3339), failing.Round(time.Second), budget, r.Reason, r.Err))
			}
			return r
		}
	}
}

// attemptKey is the key of an event's first failure.
func attemptKey(d *Delivery) string {
	return "attempt." + d.Meta.Stream + "." + strconv.FormatUint(d.Seq(), 10)
}

// firstFailure returns the time the event first failed, recording now when
// this is the first time.
func firstFailure(ctx context.Context, store kv.Store, key string, now time.Time) (time.Time, error) {
	e, err := store.Get(ctx, key)
	if err == nil {
		var rec struct {
			First time.Time `json:"first"`
		}
		if json.Unmarshal(e.Value, &rec) == nil && !rec.First.IsZero() {
			return rec.First, nil
		}
	} else if !errors.Is(err, kv.ErrNotFound) {
		return time.Time{}, err
	}
	b, _ := json.Marshal(map[string]time.Time{"first": now})
	if _, err := store.Put(ctx, key, b); err != nil {
		return time.Time{}, err
	}
	return now, nil
}
