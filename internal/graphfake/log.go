package graphfake

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Redacted replaces the Authorization header value in the request log.
const Redacted = "[REDACTED]"

// Request is one request as the emulator received and answered it.
type Request struct {
	// Time is when the request arrived, by the emulator's clock.
	Time time.Time
	// Method, Path and RawQuery are as received (Path decoded).
	Method   string
	Path     string
	RawQuery string
	// Tenant is the tid of the caller's token ("" when none).
	Tenant string
	// Status is the answered status; 499 when the client went away first.
	Status int
	// RequestID is the request-id the emulator answered with.
	RequestID string
	// Body is a copy of the request body, decompressed when it was sent gzipped.
	Body []byte
	// Header is a copy of the request headers with Authorization (and
	// Proxy-Authorization, Cookie) replaced by Redacted.
	Header http.Header
}

// requestLog is the bounded, thread-safe list of requests.
type requestLog struct {
	mu      sync.Mutex
	limit   int
	entries []Request
}

// add records x once it has been answered.
func (l *requestLog) add(x *exchange) {
	status := x.status
	if status == 0 {
		status = statusClientClosed
	}
	h := x.r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
		if _, ok := h[k]; ok {
			h[k] = []string{Redacted}
		}
	}
	e := Request{
		Time:      x.received,
		Method:    x.r.Method,
		Path:      x.r.URL.Path,
		RawQuery:  x.r.URL.RawQuery,
		Tenant:    x.tenant(),
		Status:    status,
		RequestID: x.requestID,
		Body:      slices.Clone(x.body),
		Header:    h,
	}
	l.mu.Lock()
	l.entries = append(l.entries, e)
	if l.limit > 0 && len(l.entries) >= 2*l.limit { // trim in batches: O(1) amortised
		l.entries = slices.Clone(l.entries[len(l.entries)-l.limit:])
	}
	l.mu.Unlock()
}

// kept returns the entries within the limit. The caller holds l.mu.
func (l *requestLog) kept() []Request {
	if l.limit > 0 && len(l.entries) > l.limit {
		return l.entries[len(l.entries)-l.limit:]
	}
	return l.entries
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	return s.RequestsFor("", "")
}

// RequestsFor returns the logged requests with this method ("" for any) whose path
// starts with pathPrefix, oldest first.
func (s *Server) RequestsFor(method, pathPrefix string) []Request {
	s.log.mu.Lock()
	defer s.log.mu.Unlock()
	var out []Request
	for _, e := range s.log.kept() {
		if (method == "" || strings.EqualFold(method, e.Method)) && strings.HasPrefix(e.Path, pathPrefix) {
			e.Body = slices.Clone(e.Body)
			e.Header = e.Header.Clone()
			out = append(out, e)
		}
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.log.mu.Lock()
	s.log.entries = nil
	s.log.mu.Unlock()
}
