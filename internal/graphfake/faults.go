package graphfake

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// seedMix derives the second PCG word from the seed.
const seedMix = 0x9e3779b97f4a7c15

// Fault is a scripted failure: the next Times requests that match Method, PathPrefix and
// Tenant are answered with Status and Graph's error body, and are not applied.
type Fault struct {
	// Method matches the request method ("" matches any).
	Method string
	// PathPrefix matches the start of the URL path, e.g. "/v1.0/security/incidents/4211"
	// ("" matches any).
	PathPrefix string
	// Tenant matches the caller's tenant ("" matches any caller).
	Tenant string
	// Status is the HTTP status to answer (default 500).
	Status int
	// Code is the Graph error code (default: the one Graph uses for Status, e.g.
	// activityLimitReached for 429, serviceNotAvailable for 503).
	Code string
	// Message is the error message (default: the status text).
	Message string
	// RetryAfter is the raw Retry-After header value (seconds or an HTTP-date); "" sends
	// none.
	RetryAfter string
	// Times is how many matching requests fail (default 1).
	Times int
}

func (f *Fault) matches(x *exchange) bool {
	return (f.Method == "" || strings.EqualFold(f.Method, x.r.Method)) &&
		strings.HasPrefix(x.r.URL.Path, f.PathPrefix) &&
		(f.Tenant == "" || f.Tenant == x.tenant())
}

// controls holds the fault settings that can change at run time.
type controls struct {
	mu                 sync.Mutex
	latency            time.Duration
	throttleRate       float64
	throttleRetryAfter time.Duration
	errorRate          float64
	errorRetryAfter    time.Duration
	errorStatuses      []int
	rng                *rand.Rand
	scripted           []Fault
}

func (c *controls) setThrottle(rate float64, retryAfter time.Duration) {
	c.throttleRate = clampShare(rate)
	c.throttleRetryAfter = orDefault(retryAfter, time.Second)
}

func (c *controls) setServerErrors(rate float64, retryAfter time.Duration, statuses []int) {
	c.errorRate = clampShare(rate)
	c.errorRetryAfter = orDefault(retryAfter, time.Second)
	c.errorStatuses = nil
	for _, st := range statuses {
		if st >= 500 && st <= 599 {
			c.errorStatuses = append(c.errorStatuses, st)
		}
	}
	if len(c.errorStatuses) == 0 {
		c.errorStatuses = []int{http.StatusServiceUnavailable}
	}
}

// FailNext queues a scripted fault. Faults are tried in the order queued; the first one
// matching a request fires and uses up one of its Times.
func (s *Server) FailNext(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	s.ctl.mu.Lock()
	s.ctl.scripted = append(s.ctl.scripted, f)
	s.ctl.mu.Unlock()
}

// PendingFaults returns how many scripted failures are still to fire, over all faults.
func (s *Server) PendingFaults() int {
	s.ctl.mu.Lock()
	defer s.ctl.mu.Unlock()
	n := 0
	for _, f := range s.ctl.scripted {
		n += f.Times
	}
	return n
}

// ClearFaults drops every queued scripted fault.
func (s *Server) ClearFaults() {
	s.ctl.mu.Lock()
	s.ctl.scripted = nil
	s.ctl.mu.Unlock()
}

// SetLatency sets the delay added to every request (0 for none).
func (s *Server) SetLatency(d time.Duration) {
	s.ctl.mu.Lock()
	s.ctl.latency = d
	s.ctl.mu.Unlock()
}

// SetThrottle sets the share (0..1) of requests answered 429 TooManyRequests and their
// Retry-After (rounded up to whole seconds; 0 means 1s).
func (s *Server) SetThrottle(rate float64, retryAfter time.Duration) {
	s.ctl.mu.Lock()
	s.ctl.setThrottle(rate, retryAfter)
	s.ctl.mu.Unlock()
}

// SetServerErrors sets the share (0..1) of requests answered with a 5xx picked
// uniformly from statuses (default 503), and the Retry-After sent with 503s (0 means 1s).
func (s *Server) SetServerErrors(rate float64, retryAfter time.Duration, statuses ...int) {
	s.ctl.mu.Lock()
	s.ctl.setServerErrors(rate, retryAfter, statuses)
	s.ctl.mu.Unlock()
}

// SetSeed reseeds the random source of random faults.
func (s *Server) SetSeed(seed uint64) {
	s.ctl.mu.Lock()
	s.ctl.rng = rand.New(rand.NewPCG(seed, seed^seedMix))
	s.ctl.mu.Unlock()
}

// delay waits the configured latency; it returns false, answering nothing, when the
// request's context ends first.
func (s *Server) delay(x *exchange) bool {
	s.ctl.mu.Lock()
	d := s.ctl.latency
	s.ctl.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.r.Context().Done():
		x.status = statusClientClosed
		return false
	}
}

// scriptedFault answers x with the first queued fault that matches it.
func (s *Server) scriptedFault(x *exchange) bool {
	s.ctl.mu.Lock()
	var fired *Fault
	for i := range s.ctl.scripted {
		if f := &s.ctl.scripted[i]; f.matches(x) {
			copied := *f
			fired = &copied
			if f.Times--; f.Times == 0 {
				s.ctl.scripted = append(s.ctl.scripted[:i], s.ctl.scripted[i+1:]...)
			}
			break
		}
	}
	s.ctl.mu.Unlock()
	if fired == nil {
		return false
	}
	if fired.RetryAfter != "" {
		x.w.Header().Set("Retry-After", fired.RetryAfter)
	}
	code, msg := fired.Code, fired.Message
	if code == "" {
		code = defaultCode(fired.Status)
	}
	if msg == "" {
		msg = statusMessage(fired.Status)
	}
	x.fail(fired.Status, code, msg)
	return true
}

// randomFault answers a share of requests with 429 or 5xx, drawing from the seeded
// source: one draw decides, a second picks the 5xx status when there are several.
func (s *Server) randomFault(x *exchange) bool {
	c := &s.ctl
	c.mu.Lock()
	if c.throttleRate <= 0 && c.errorRate <= 0 {
		c.mu.Unlock()
		return false
	}
	u := c.rng.Float64()
	status := 0
	var retryAfter time.Duration
	switch {
	case u < c.throttleRate:
		status, retryAfter = http.StatusTooManyRequests, c.throttleRetryAfter
	case u < c.throttleRate+c.errorRate:
		status = c.errorStatuses[0]
		if len(c.errorStatuses) > 1 {
			status = c.errorStatuses[c.rng.IntN(len(c.errorStatuses))]
		}
		if status == http.StatusServiceUnavailable {
			retryAfter = c.errorRetryAfter
		}
	}
	c.mu.Unlock()
	switch {
	case status == 0:
		return false
	case status == http.StatusTooManyRequests:
		x.w.Header().Set("Retry-After", retrySeconds(retryAfter))
		x.fail(status, codeThrottled, "Too many requests. Retry after "+retrySeconds(retryAfter)+" seconds.")
	default:
		if retryAfter > 0 {
			x.w.Header().Set("Retry-After", retrySeconds(retryAfter))
		}
		x.fail(status, defaultCode(status), "The service is temporarily unavailable. Please retry.")
	}
	return true
}

// retrySeconds renders d as a Retry-After value: whole seconds, rounded up, at least 1.
func retrySeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

func clampShare(f float64) float64 {
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return min(f, 1)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
