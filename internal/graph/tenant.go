package graph

import (
	"context"
	"errors"
	"sync"
	"time"

	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	sdksecurity "github.com/microsoftgraph/msgraph-sdk-go/security"
	"golang.org/x/time/rate"
)

// limitClass is a rate-limit budget of a tenant.
type limitClass int

const (
	incidentCalls limitClass = iota
	actionCalls
)

// limiter wraps x/time/rate; a nil limiter never waits.
type limiter struct{ l *rate.Limiter }

// newLimiter allows at most r.PerMinute calls in any minute: a token bucket
// lets through its burst plus its rate per minute, so the rate is PerMinute
// less the burst (Graph counts a fixed budget per minute, and a limiter at
// exactly PerMinute with a burst of 10 sent 160 in the first minute).
func newLimiter(r RateLimit) *limiter {
	if r.PerMinute <= 0 {
		return &limiter{}
	}
	burst := min(max(r.Burst, 1), r.PerMinute)
	perMinute := max(r.PerMinute-burst, 1)
	return &limiter{l: rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)}
}

// errLimited is the cause of a call that the tenant's rate budget cannot fit
// before the caller's deadline.
var errLimited = errors.New("the tenant's rate limit allows no call before the deadline")

// tenantClient is the per-tenant state: its SDK adapter, rate limiters and the time
// until which Graph asked it to hold off.
type tenantClient struct {
	id        string
	adapter   *msgraphsdk.GraphRequestAdapter
	incidents *sdksecurity.IncidentsRequestBuilder // v1.0 /security/incidents
	limits    map[limitClass]*limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

// pause holds every call of the tenant until t (a 429's Retry-After).
func (t *tenantClient) pause(until time.Time) {
	t.mu.Lock()
	if until.After(t.pausedUntil) {
		t.pausedUntil = until
	}
	t.mu.Unlock()
}

// wait blocks until the tenant is not paused and its budget allows a call.
func (t *tenantClient) wait(ctx context.Context, class limitClass) error {
	for {
		t.mu.Lock()
		d := time.Until(t.pausedUntil)
		t.mu.Unlock()
		if d <= 0 {
			break
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	l := t.limits[class]
	if l == nil || l.l == nil {
		return nil
	}
	r := l.l.Reserve()
	d := r.Delay()
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		// Waiting cannot succeed: say so now, as a throttle worth retrying
		// later (rate.Limiter.Wait reports it as a plain error).
		r.Cancel()
		return &Error{Tenant: t.id, kind: ErrThrottled, RetryAfter: d, Err: errLimited}
	}
	if d <= 0 {
		return nil
	}
	if err := sleep(ctx, d); err != nil {
		r.Cancel()
		return err
	}
	return nil
}
