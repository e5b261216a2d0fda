package graphfake

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// RateLimit allows each tenant Requests requests per sliding Window on the requests it
// covers; the next one is answered 429 activityLimitReached with a Retry-After of the
// whole seconds, rounded up, until the oldest counted request leaves the window.
// Requests without a tenant share the bucket "". Rejected requests do not count.
type RateLimit struct {
	// Requests is the number of requests allowed per Window; <= 0 disables the limit.
	Requests int
	// Window is the length of the sliding window, e.g. time.Minute.
	Window time.Duration
	// PathPrefix limits the rule to paths with this prefix, e.g.
	// "/beta/security/securityActions" ("" covers every path).
	PathPrefix string
	// Method limits the rule to one HTTP method ("" covers every method).
	Method string
}

func (l RateLimit) covers(x *exchange) bool {
	return l.Requests > 0 && l.Window > 0 &&
		strings.HasPrefix(x.r.URL.Path, l.PathPrefix) &&
		(l.Method == "" || strings.EqualFold(l.Method, x.r.Method))
}

// limiter keeps, for each limit and tenant, the times of the requests it counted.
type limiter struct {
	mu     sync.Mutex
	limits []RateLimit
	seen   []map[string][]time.Time
}

func (l *limiter) set(limits []RateLimit) {
	l.limits = append([]RateLimit(nil), limits...)
	l.seen = make([]map[string][]time.Time, len(limits))
	for i := range l.seen {
		l.seen[i] = map[string][]time.Time{}
	}
}

// SetRateLimits replaces the per-tenant rate limits and forgets all counted requests.
func (s *Server) SetRateLimits(limits ...RateLimit) {
	s.limiter.mu.Lock()
	s.limiter.set(limits)
	s.limiter.mu.Unlock()
}

// rateLimited answers x with 429 when one of the limits covering it is exhausted for
// its tenant; otherwise it counts x against every covering limit.
func (s *Server) rateLimited(x *exchange) bool {
	l := &s.limiter
	now := s.now()
	tenant := x.tenant()
	l.mu.Lock()
	var wait time.Duration
	for i, lim := range l.limits {
		if !lim.covers(x) {
			continue
		}
		times := l.seen[i][tenant]
		cut := 0
		for cut < len(times) && !times[cut].After(now.Add(-lim.Window)) {
			cut++
		}
		times = times[cut:]
		l.seen[i][tenant] = times
		if len(times) >= lim.Requests {
			wait = max(wait, times[len(times)-lim.Requests].Add(lim.Window).Sub(now))
		}
	}
	if wait == 0 {
		for i, lim := range l.limits {
			if lim.covers(x) {
				l.seen[i][tenant] = append(l.seen[i][tenant], now)
			}
		}
	}
	l.mu.Unlock()
	if wait == 0 {
		return false
	}
	secs := retrySeconds(wait)
	x.w.Header().Set("Retry-After", secs)
	x.fail(http.StatusTooManyRequests, codeActivityLimit,
		"The application or user has been throttled for this tenant. Retry after "+secs+" seconds.")
	return true
}
