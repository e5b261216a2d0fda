// Package graphfake emulates the parts of Microsoft Graph that graphsoar calls, as an
// http.Handler mounted at the Graph root: v1.0 security incidents (list with $filter and
// paging, get, PATCH, POST comments) and beta securityActions (create, list, get, cancel).
// The same handler serves Defender for Endpoint's indicators API at /api/indicators
// (submit or update, list active ones with $filter, $top and $skip, get, delete), with
// Defender's per-tenant limits of 100 calls a minute, 1,500 an hour and 15,000 active
// indicators on by default; point a Defender client's base URL at the emulator's root.
//
// It reproduces Graph's wire behaviour closely enough for the real msgraph-sdk-go client
// to run against it: camelCase enums, Graph's JSON error body, request-id headers,
// absolute @odata.nextLink URLs, 401 without a bearer token, tenant scoping by the
// token's tid claim. Incidents are kept as decoded JSON objects so every fixture field
// survives unchanged. Fault controls (latency, random 429 and 5xx, per-tenant rate
// limits, scripted one-shot faults) and a request log make client behaviour testable.
//
// The emulator is a test double: it never verifies token signatures and never imports
// the Graph client it is meant to test.
package graphfake

import (
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// MaxPageSize is the largest incident page Graph returns; a larger $top is capped.
	MaxPageSize = 50
	// DefaultDisplayName names the emulator in lastModifiedBy and comment authors when
	// the caller's token carries no user or app name.
	DefaultDisplayName = "graphsoar-emulator"

	maxBodyBytes = 4 << 20
)

// Options configures a Server. The zero value is a usable, strict, fault-free emulator
// that enforces Defender's limits on the indicators API (see IndicatorRateLimits).
type Options struct {
	// Open accepts requests without an Authorization header (tokens that are present
	// are still read for their tenant).
	Open bool
	// Now is the emulator's clock (lastUpdateDateTime, comments, rate-limit windows,
	// the request log). Default time.Now.
	Now func() time.Time
	// PageSize is the incident page size when a request has no $top. Default 50.
	PageSize int
	// DisplayName is written to lastModifiedBy and createdByDisplayName when the token
	// names no user or app. Default DefaultDisplayName.
	DisplayName string

	// Latency delays every request; the delay ends early when the request's context does.
	Latency time.Duration
	// ThrottleRate is the share (0..1) of requests answered 429 TooManyRequests.
	ThrottleRate float64
	// ThrottleRetryAfter is the Retry-After of random 429s, rounded up to whole seconds.
	// Default 1s.
	ThrottleRetryAfter time.Duration
	// ServerErrorRate is the share (0..1) of requests answered with a 5xx.
	ServerErrorRate float64
	// ServerErrorStatuses are the statuses random 5xx faults pick from, uniformly.
	// Default {503}.
	ServerErrorStatuses []int
	// ServerErrorRetryAfter is the Retry-After sent with random 503s. Default 1s.
	ServerErrorRetryAfter time.Duration
	// Seed seeds the random source of random faults: the same seed and the same
	// sequence of requests give the same faults.
	Seed uint64
	// RateLimits are per-tenant request limits, checked on every request.
	RateLimits []RateLimit
	// IndicatorRateLimits are per-tenant limits on Defender's indicators API only
	// (every request whose path is /api/indicators or below it, any case, any method),
	// counted on top of RateLimits. Empty means DefaultIndicatorRateLimits: Defender's
	// 100 calls a minute and 1,500 an hour. Set NoIndicatorRateLimits to have none.
	IndicatorRateLimits []RateLimit
	// NoIndicatorRateLimits switches the indicator limits off (for benchmarks and load
	// tests); IndicatorRateLimits is then ignored.
	NoIndicatorRateLimits bool
	// MaxIndicators is how many active indicators a tenant may hold; submitting a new
	// one beyond that is 400. Default MaxActiveIndicators (15,000), as Defender.
	MaxIndicators int
	// LogLimit keeps only the newest LogLimit requests in the request log; 0 keeps all.
	LogLimit int
}

// Server is the Graph emulator. Create it with New; it is safe for concurrent use.
type Server struct {
	now         func() time.Time
	pageSize    int
	displayName string
	open        atomic.Bool
	inflight    atomic.Int64

	mu          sync.RWMutex
	incidents   map[string]map[string]any
	actions     []map[string]any
	actionIndex map[string]int
	indicators  indicatorStore
	lastStamp   time.Time

	maxIndicators int

	ctl     controls
	limiter limiter
	log     requestLog
}

// New returns a Server configured by opts, with no incidents, actions or indicators.
func New(opts Options) *Server {
	s := &Server{
		now:         opts.Now,
		pageSize:    opts.PageSize,
		displayName: opts.DisplayName,
		incidents:   map[string]map[string]any{},
		actionIndex: map[string]int{},
		indicators:  indicatorStore{tenants: map[string]*tenantIndicators{}},

		maxIndicators: opts.MaxIndicators,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.pageSize <= 0 {
		s.pageSize = MaxPageSize
	}
	if s.displayName == "" {
		s.displayName = DefaultDisplayName
	}
	s.open.Store(opts.Open)
	s.ctl.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^seedMix))
	s.ctl.latency = opts.Latency
	s.ctl.setThrottle(opts.ThrottleRate, opts.ThrottleRetryAfter)
	s.ctl.setServerErrors(opts.ServerErrorRate, opts.ServerErrorRetryAfter, opts.ServerErrorStatuses)
	if s.maxIndicators <= 0 {
		s.maxIndicators = MaxActiveIndicators
	}
	indicatorLimits := opts.IndicatorRateLimits
	switch {
	case opts.NoIndicatorRateLimits:
		indicatorLimits = nil
	case len(indicatorLimits) == 0:
		indicatorLimits = DefaultIndicatorRateLimits()
	}
	s.limiter.set(opts.RateLimits, indicatorLimits)
	s.log.limit = opts.LogLimit
	return s
}

// SetOpen switches whether requests without a bearer token are accepted.
func (s *Server) SetOpen(open bool) { s.open.Store(open) }

// InFlight returns the number of requests being handled right now (for example
// waiting out the configured latency).
func (s *Server) InFlight() int { return int(s.inflight.Load()) }

// ServeHTTP answers one Graph request. Every response carries request-id and
// client-request-id headers; errors use Graph's JSON error body. The pipeline is:
// read body, latency, authentication, scripted faults, rate limits, random faults,
// routing. Every request is recorded in the request log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	x := s.newExchange(w, r)
	defer s.log.add(x)
	if !x.readBody() {
		return
	}
	if !s.delay(x) {
		return
	}
	if !s.authenticate(x) {
		return
	}
	if s.scriptedFault(x) || s.rateLimited(x) || s.randomFault(x) {
		return
	}
	s.route(x)
}
