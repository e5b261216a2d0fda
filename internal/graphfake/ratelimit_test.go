package graphfake_test

import (
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestPerTenantRateLimit(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	s, c := start(t, graphfake.Options{
		Now:        clock.Now,
		RateLimits: []graphfake.RateLimit{{Requests: 3, Window: time.Minute, PathPrefix: "/beta/security/securityActions"}},
	})
	asA := c.withToken(jwt(map[string]any{"tid": tenantA}))
	asB := c.withToken(jwt(map[string]any{"tid": tenantB}))
	post := func(cl *client) *response { return cl.do("POST", actionsPath, blockHash("abc")) }

	for range 3 {
		post(asA).expect(t, 201)
	}
	r := post(asA).expect(t, 429)
	if code := r.errorCode(t); code != "activityLimitReached" {
		t.Errorf("code %q", code)
	}
	if got := r.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q, want 60", got)
	}

	// Other tenants and paths the limit does not cover are unaffected.
	post(asB).expect(t, 201)
	asA.do("GET", "/v1.0/security/incidents", nil).expect(t, 200)

	clock.Advance(30*time.Second + 500*time.Millisecond)
	r = post(asA).expect(t, 429)
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30 (29.5s rounded up)", got)
	}

	clock.Advance(29*time.Second + 500*time.Millisecond) // exactly one window later
	post(asA).expect(t, 201)
	if n := len(s.SecurityActions()); n != 5 {
		t.Errorf("%d actions stored, want 5 (throttled requests are not applied)", n)
	}

	// Replacing the limits forgets the counts.
	s.SetRateLimits(graphfake.RateLimit{Requests: 1, Window: time.Second, Method: "GET"})
	asA.do("GET", "/v1.0/security/incidents", nil).expect(t, 200)
	if got := asA.do("GET", "/v1.0/security/incidents", nil).expect(t, 429).header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	post(asA).expect(t, 201)                                    // POST is not covered
	c.do("GET", "/v1.0/security/incidents", nil).expect(t, 200) // the no-tenant bucket
	s.SetRateLimits()
	asA.do("GET", "/v1.0/security/incidents", nil).expect(t, 200)
}
