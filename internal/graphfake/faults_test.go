package graphfake_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestScriptedFaults(t *testing.T) {
	t.Parallel()
	httpDate := "Fri, 20 Nov 2026 10:00:00 GMT"
	tests := []struct {
		name       string
		fault      graphfake.Fault
		wantCode   string
		wantRetry  string
		wantStatus int
	}{
		{"429 seconds", graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4211", Status: 429, RetryAfter: "2", Code: "activityLimitReached", Times: 3}, "activityLimitReached", "2", 429},
		{"429 http-date", graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4211", Status: 429, RetryAfter: httpDate}, "activityLimitReached", httpDate, 429},
		{"503 default code", graphfake.Fault{PathPrefix: "/v1.0/security/incidents", Status: 503, RetryAfter: "1", Times: 2}, "serviceNotAvailable", "1", 503},
		{"default status", graphfake.Fault{Method: "patch"}, "generalException", "", 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, graphfake.Options{})
			s.FailNext(tc.fault)
			times := max(tc.fault.Times, 1)
			if s.PendingFaults() != times {
				t.Errorf("PendingFaults %d, want %d", s.PendingFaults(), times)
			}
			// A request the fault does not match goes through.
			c.do("GET", "/beta/security/securityActions", nil).expect(t, 200)
			for i := range times {
				r := c.do("PATCH", "/v1.0/security/incidents/4211", `{"status":"resolved"}`).expect(t, tc.wantStatus)
				if code := r.errorCode(t); code != tc.wantCode {
					t.Errorf("attempt %d: code %q, want %q", i, code, tc.wantCode)
				}
				if got := r.header.Get("Retry-After"); got != tc.wantRetry {
					t.Errorf("attempt %d: Retry-After %q, want %q", i, got, tc.wantRetry)
				}
				if inc, _ := s.Incident("4211"); inc["status"] != "inProgress" {
					t.Fatal("a faulted PATCH was applied")
				}
			}
			c.do("PATCH", "/v1.0/security/incidents/4211", `{"status":"resolved"}`).expect(t, 200)
			if s.PendingFaults() != 0 {
				t.Errorf("PendingFaults %d after use", s.PendingFaults())
			}
		})
	}
	t.Run("tenant and clear", func(t *testing.T) {
		t.Parallel()
		s, c := start(t, graphfake.Options{})
		s.FailNext(graphfake.Fault{Tenant: tenantB, Status: 403})
		c.withToken(jwt(map[string]any{"tid": tenantA})).do("GET", "/v1.0/security/incidents", nil).expect(t, 200)
		r := c.withToken(jwt(map[string]any{"tid": tenantB})).do("GET", "/v1.0/security/incidents", nil).expect(t, 403)
		if code := r.errorCode(t); code != "accessDenied" {
			t.Errorf("code %q", code)
		}
		s.FailNext(graphfake.Fault{Status: 500, Times: 5})
		s.ClearFaults()
		c.do("GET", "/v1.0/security/incidents", nil).expect(t, 200)
	})
}

func TestRandomThrottleIsReproducible(t *testing.T) {
	t.Parallel()
	run := func(seed uint64) []int {
		s, c := start(t, graphfake.Options{Seed: seed, ThrottleRate: 0.3, ThrottleRetryAfter: 1500 * time.Millisecond})
		statuses := make([]int, 200)
		for i := range statuses {
			r := c.do("GET", "/v1.0/security/incidents/4211", nil)
			statuses[i] = r.status
			if r.status == 429 {
				if r.header.Get("Retry-After") != "2" {
					t.Fatalf("Retry-After %q, want 2 (1.5s rounded up)", r.header.Get("Retry-After"))
				}
				if code := r.errorCode(t); code != "TooManyRequests" {
					t.Fatalf("code %q", code)
				}
			}
		}
		s.SetThrottle(0, 0)
		c.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 200)
		return statuses
	}
	a, b, other := run(42), run(42), run(7)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different faults")
	}
	if slices.Equal(a, other) {
		t.Error("different seeds gave the same faults")
	}
	n := 0
	for _, st := range a {
		if st == 429 {
			n++
		} else if st != 200 {
			t.Fatalf("status %d", st)
		}
	}
	if n < 30 || n > 90 { // 60 expected
		t.Errorf("%d of 200 throttled at rate 0.3", n)
	}
}

func TestRandomServerErrors(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{Seed: 1})
	s.SetServerErrors(1, 3*time.Second, 500, 502, 503, 504)
	seen := map[int]bool{}
	for range 100 {
		r := c.do("GET", "/v1.0/security/incidents", nil)
		seen[r.status] = true
		code := r.errorCode(t)
		switch r.status {
		case 503:
			if r.header.Get("Retry-After") != "3" || code != "serviceNotAvailable" {
				t.Errorf("503: Retry-After %q code %q", r.header.Get("Retry-After"), code)
			}
		case 500, 502, 504:
		default:
			t.Fatalf("status %d", r.status)
		}
	}
	if len(seen) != 4 {
		t.Errorf("statuses seen %v, want all four", seen)
	}
	s.SetServerErrors(0, 0)
	c.do("GET", "/v1.0/security/incidents", nil).expect(t, 200)
}

func TestLatencyHonoursContext(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{Latency: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "PATCH", c.base+"/v1.0/security/incidents/4211", strings.NewReader(`{"status":"resolved"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	began := time.Now()
	resp, err := c.hc.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request with an hour of latency answered before its deadline")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v", err)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	// The handler gives up too: poll the log for the abandoned request.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.RequestsFor("PATCH", "")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("abandoned request never logged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := s.RequestsFor("PATCH", "")[0].Status; got != 499 {
		t.Errorf("logged status %d, want 499", got)
	}
	if inc, _ := s.Incident("4211"); inc["status"] != "inProgress" {
		t.Error("an abandoned PATCH was applied")
	}
	s.SetLatency(0)
	c.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 200)
}

func TestLatencyDelays(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{Open: true, Latency: 30 * time.Millisecond})
	if err := s.SeedFS(fixtures.FS()); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/v1.0/security/incidents/4211", nil))
	if rec.Code != 200 || time.Since(began) < 30*time.Millisecond {
		t.Errorf("status %d after %v", rec.Code, time.Since(began))
	}
}
