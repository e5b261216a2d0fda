package graph

import (
	"context"
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

func newLimiter(r RateLimit) *limiter {
	if r.PerMinute <= 0 {
		return &limiter{}
	}
	burst := max(r.Burst, 1)
	return &limiter{l: rate.NewLimiter(rate.Limit(float64(r.PerMinute)/60), burst)}
}

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
	if l := t.limits[class]; l != nil && l.l != nil {
		return l.l.Wait(ctx)
	}
	return nil
}
