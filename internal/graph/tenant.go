package graph

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	sdksecurity "github.com/microsoftgraph/msgraph-sdk-go/security"
	"golang.org/x/time/rate"

	"github.com/graphsoar/graphsoar/internal/ctxtime"
)

// limitClass is a rate-limit budget of a tenant.
type limitClass int

const (
	incidentCalls  limitClass = iota // incidents: get, list, patch, comment
	actionCalls                      // legacy beta securityActions
	indicatorCalls                   // Defender indicators
)

// limiter is a tenant's budget of one class of calls: one token bucket per
// window (a minute, and an hour when configured); a call waits for all.
// A limiter without buckets never waits.
type limiter struct{ buckets []*rate.Limiter }

// newLimiter allows at most r.PerMinute calls in any minute and, with
// PerHour, at most PerHour in any hour. A token bucket lets through its burst
// plus its rate times the window, so each rate is the budget less the burst
// (Graph counts a fixed budget per window, and a limiter at exactly PerMinute
// with a burst of 10 sent 160 in the first minute).
func newLimiter(r RateLimit) *limiter {
	l := &limiter{}
	if r.PerMinute <= 0 {
		return l
	}
	burst := min(max(r.Burst, 1), r.PerMinute)
	l.buckets = append(l.buckets, rate.NewLimiter(rate.Limit(float64(max(r.PerMinute-burst, 1))/60), burst))
	if r.PerHour > 0 {
		hb := min(r.PerMinute, r.PerHour)
		l.buckets = append(l.buckets, rate.NewLimiter(rate.Limit(float64(max(r.PerHour-hb, 1))/3600), hb))
	}
	return l
}

// reserve takes one call from every bucket and returns how long to wait
// before making it, and a function that gives the call back.
func (l *limiter) reserve() (time.Duration, func()) {
	return l.reserveAt(time.Now())
}

func (l *limiter) reserveAt(now time.Time) (time.Duration, func()) {
	var d time.Duration
	rs := make([]*rate.Reservation, 0, len(l.buckets))
	for _, b := range l.buckets {
		r := b.ReserveN(now, 1)
		rs = append(rs, r)
		d = max(d, r.DelayFrom(now))
	}
	return d, func() {
		for _, r := range rs {
			r.CancelAt(now)
		}
	}
}

// drain empties every bucket: the calls of the next window come only from
// the refill, as if the whole burst had just been spent.
func (l *limiter) drain() { l.drainAt(time.Now()) }

func (l *limiter) drainAt(now time.Time) {
	for _, b := range l.buckets {
		if n := int(math.Ceil(b.TokensAt(now))); n > 0 {
			b.ReserveN(now, n)
		}
	}
}

// errPaused is the cause of a call made while Graph's Retry-After for the
// tenant runs longer than the client waits in-process.
var errPaused = errors.New("the tenant is throttled by Graph (Retry-After)")

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
	// defenderToken returns the bearer token of the Defender API ("" for an
	// anonymous emulator).
	defenderToken func(ctx context.Context) (string, error)

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
// A pause longer than maxPause is not waited out: the call fails at once as
// a throttle with the time left, so that the event is retried later and
// does not hold a worker slot meanwhile.
func (t *tenantClient) wait(ctx context.Context, class limitClass, maxPause time.Duration) error {
	for {
		t.mu.Lock()
		d := time.Until(t.pausedUntil)
		t.mu.Unlock()
		if d <= 0 {
			break
		}
		if maxPause > 0 && d > maxPause {
			return &Error{Tenant: t.id, kind: ErrThrottled, RetryAfter: d, Err: errPaused}
		}
		if err := ctxtime.Sleep(ctx, d); err != nil {
			return err
		}
	}
	l := t.limits[class]
	if l == nil || len(l.buckets) == 0 {
		return nil
	}
	d, cancel := l.reserve()
	if deadline, ok := ctx.Deadline(); (ok && time.Until(deadline) < d) || (maxPause > 0 && d > maxPause) {
		// Waiting cannot succeed, or would hold the caller longer than it
		// waits in-process: say so now, as a throttle worth retrying later
		// (rate.Limiter.Wait reports it as a plain error).
		cancel()
		return &Error{Tenant: t.id, kind: ErrThrottled, RetryAfter: d, Err: errLimited}
	}
	if d <= 0 {
		return nil
	}
	if err := ctxtime.Sleep(ctx, d); err != nil {
		cancel()
		return err
	}
	return nil
}

// drainBudgets empties every budget of the tenant (see Client.ClaimBudget).
func (t *tenantClient) drainBudgets() {
	for _, l := range t.limits {
		l.drain()
	}
}
