package graphfake_test

import (
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestIndicatorRateLimitDefaults(t *testing.T) {
	t.Parallel()
	s, c, clock := indicatorServer(t, graphfake.Options{})
	asA, asB := asApp(c, tenantA, appA, "a"), asApp(c, tenantB, appA, "b")

	// Every method counts: 1 POST, 98 GETs and 1 DELETE (in any path case) are 100.
	asA.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200)
	for i := range 98 {
		path := indicatorsPath
		if i%2 == 1 {
			path = "/API/Indicators/1"
		}
		asA.do("GET", path, nil).expect(t, 200)
	}
	clock.Advance(10 * time.Second)
	asA.do("DELETE", indicatorsPath+"/1", nil).expect(t, 204)

	r := asA.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 429)
	if code := r.errorCode(t); code != "activityLimitReached" {
		t.Errorf("code %q", code)
	}
	if got := r.header.Get("Retry-After"); got != "50" {
		t.Errorf("Retry-After %q, want 50 (the first call leaves the minute 50s from now)", got)
	}
	if s.Indicators(tenantA) != nil {
		t.Error("a throttled POST was applied")
	}
	asB.do("GET", indicatorsPath, nil).expect(t, 200)                  // other tenants have their own budget
	asA.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 200) // Graph paths are not covered

	// A minute after the first calls they have left the window; the DELETE has not.
	clock.Advance(50 * time.Second)
	for range 99 {
		asA.do("GET", indicatorsPath, nil).expect(t, 200)
	}
	if got := asA.do("GET", indicatorsPath, nil).expect(t, 429).header.Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After %q, want 10 (until the DELETE leaves the window)", got)
	}
	clock.Advance(10 * time.Second)
	asA.do("GET", indicatorsPath, nil).expect(t, 200)
}

func TestIndicatorRateLimitHour(t *testing.T) {
	t.Parallel()
	_, c, clock := indicatorServer(t, graphfake.Options{})
	// 15 minutes of 100 calls each use up the hourly 1,500.
	for range 15 {
		for range 100 {
			c.do("GET", indicatorsPath, nil).expect(t, 200)
		}
		clock.Advance(time.Minute)
	}
	r := c.do("GET", indicatorsPath, nil).expect(t, 429)
	if got := r.header.Get("Retry-After"); got != "2700" {
		t.Errorf("Retry-After %q, want 2700 (45 minutes until the first call leaves the hour)", got)
	}
}

func TestIndicatorRateLimitSettings(t *testing.T) {
	t.Parallel()
	burst := func(c *client, n int) (ok int) {
		for range n {
			if c.do("GET", indicatorsPath, nil).status == 200 {
				ok++
			}
		}
		return ok
	}
	tests := []struct {
		name   string
		opts   graphfake.Options
		adjust func(*graphfake.Server)
		want   int // successful calls of 150
	}{
		{"default", graphfake.Options{}, nil, 100},
		{"switched off", graphfake.Options{NoIndicatorRateLimits: true}, nil, 150},
		{"custom", graphfake.Options{IndicatorRateLimits: []graphfake.RateLimit{{Requests: 5, Window: time.Minute}}}, nil, 5},
		{"custom GET ignored for POST only", graphfake.Options{IndicatorRateLimits: []graphfake.RateLimit{{Requests: 5, Window: time.Minute, Method: "POST"}}}, nil, 150},
		{"off at run time", graphfake.Options{}, func(s *graphfake.Server) { s.SetIndicatorRateLimits() }, 150},
		{"replaced at run time", graphfake.Options{}, func(s *graphfake.Server) {
			s.SetIndicatorRateLimits(graphfake.RateLimit{Requests: 7, Window: time.Hour})
		}, 7},
		{"SetRateLimits keeps them", graphfake.Options{}, func(s *graphfake.Server) {
			s.SetRateLimits(graphfake.RateLimit{Requests: 120, Window: time.Minute})
		}, 100},
		{"general limit still applies", graphfake.Options{NoIndicatorRateLimits: true,
			RateLimits: []graphfake.RateLimit{{Requests: 20, Window: time.Minute}}}, nil, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c, _ := indicatorServer(t, tc.opts)
			if tc.adjust != nil {
				tc.adjust(s)
			}
			if got := burst(c, 150); got != tc.want {
				t.Errorf("%d of 150 calls succeeded, want %d", got, tc.want)
			}
		})
	}
}

func TestDefaultIndicatorRateLimits(t *testing.T) {
	t.Parallel()
	got := graphfake.DefaultIndicatorRateLimits()
	want := []graphfake.RateLimit{{Requests: 100, Window: time.Minute}, {Requests: 1500, Window: time.Hour}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("DefaultIndicatorRateLimits() = %v, want %v", got, want)
	}
	got[0].Requests = 1 // a copy: the defaults stay
	if graphfake.DefaultIndicatorRateLimits()[0].Requests != 100 {
		t.Error("DefaultIndicatorRateLimits returns shared state")
	}
}

func TestMaxActiveIndicators(t *testing.T) {
	t.Parallel()
	s, c, clock := indicatorServer(t, graphfake.Options{MaxIndicators: 2})
	soon := t0.Add(time.Minute).Format(time.RFC3339)
	c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash, "expirationTime", soon)).expect(t, 200)
	c.do("POST", indicatorsPath, indicator("FileSha1", sha1Hash)).expect(t, 200)

	r := c.do("POST", indicatorsPath, indicator("FileMd5", md5Hash)).expect(t, 400)
	if code := r.errorCode(t); code != "BadRequest" {
		t.Errorf("code %q", code)
	}
	if msg := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "2 active indicators") {
		t.Errorf("message %q", msg)
	}
	// Updating one that is held is not a new one; another tenant has its own quota.
	c.do("POST", indicatorsPath, indicator("FileSha1", sha1Hash, "action", "Block")).expect(t, 200)
	asApp(c, tenantB, appA, "b").do("POST", indicatorsPath, indicator("FileMd5", md5Hash)).expect(t, 200)

	// An expired indicator frees its place, and reviving it needs one.
	clock.Advance(time.Minute)
	c.do("POST", indicatorsPath, indicator("FileMd5", md5Hash)).expect(t, 200)
	c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 400)
	// A deleted one frees its place too.
	c.do("DELETE", indicatorsPath+"/2", nil).expect(t, 204)
	c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200)
	if got := ids(t, map[string]any{"value": toAny(s.Indicators(""))}); strings.Join(got, ",") != "1,4" {
		t.Errorf("stored ids %v, want [1 4] (2 deleted, 3 is tenant B's)", got)
	}
	if graphfake.MaxActiveIndicators != 15000 {
		t.Errorf("MaxActiveIndicators %d, want Defender's 15000", graphfake.MaxActiveIndicators)
	}
}

func toAny(list []map[string]any) []any {
	out := make([]any, len(list))
	for i, m := range list {
		out[i] = m
	}
	return out
}
