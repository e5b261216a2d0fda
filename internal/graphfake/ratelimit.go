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
	// "/beta/security/securityActions" ("" covers every path; an indicator limit
	// only ever covers /api/indicators paths).
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
	// indicatorFrom indexes the first limit that covers only Defender's indicators
	// API; the limits before it are the general ones (Options.RateLimits).
	indicatorFrom int
	seen          []map[string][]time.Time
}

// set replaces the general and the indicator limits and forgets all counts.
func (l *limiter) set(general, indicators []RateLimit) {
	all := make([]RateLimit, 0, len(general)+len(indicators))
	all = append(append(all, general...), indicators...)
	l.limits = all
	l.indicatorFrom = len(general)
	l.seen = make([]map[string][]time.Time, len(all))
	for i := range l.seen {
		l.seen[i] = map[string][]time.Time{}
	}
}

// covers reports whether limit i applies to x.
func (l *limiter) covers(i int, x *exchange) bool {
	return l.limits[i].covers(x) && (i < l.indicatorFrom || isIndicatorPath(x.r.URL.Path))
}

// SetRateLimits replaces the general per-tenant rate limits (Options.RateLimits) and
// forgets all counted requests. The indicator limits stay as they are; change them
// with SetIndicatorRateLimits.
func (s *Server) SetRateLimits(limits ...RateLimit) {
	l := &s.limiter
	l.mu.Lock()
	l.set(limits, l.limits[l.indicatorFrom:])
	l.mu.Unlock()
}

// SetIndicatorRateLimits replaces the per-tenant limits on Defender's indicators API
// (see Options.IndicatorRateLimits; here no limits means none, not the defaults) and
// forgets all counted requests. The general limits stay as they are.
func (s *Server) SetIndicatorRateLimits(limits ...RateLimit) {
	l := &s.limiter
	l.mu.Lock()
	l.set(l.limits[:l.indicatorFrom], limits)
	l.mu.Unlock()
}

// DefaultIndicatorRateLimits returns Defender's published per-tenant limits on the
// indicators API: 100 calls a minute and 1,500 an hour, every method counted.
func DefaultIndicatorRateLimits() []RateLimit {
	return []RateLimit{{Requests: 100, Window: time.Minute}, {Requests: 1500, Window: time.Hour}}
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
		if !l.covers(i, x) {
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
		for i := range l.limits {
			if l.covers(i, x) {
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
