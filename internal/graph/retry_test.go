package graph_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"3":                             3 * time.Second,
		" 120 ":                         2 * time.Minute,
		"-5":                            0,
		"soon":                          0,
		"Mon, 23 Nov 2026 10:00:07 GMT": 7 * time.Second,
		"Mon, 23 Nov 2026 09:59:00 GMT": 0,
	} {
		if got := graph.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func statusPatch() actions.Patch {
	s := "resolved"
	return actions.Patch{Status: &s}
}

func TestRetryAfterSecondsIsHonoured(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	srv.FailNext(graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4212", Status: 429, RetryAfter: "1", Times: 2})
	c := client(t, root, nil)
	_, info, err := c.UpdateIncident(context.Background(), tenant, "4212", statusPatch())
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsFor("PATCH", "/v1.0/security/incidents/4212")
	if info.Attempts != 3 || len(reqs) != 3 || reqs[2].Status != 200 {
		t.Fatalf("attempts %d, requests %d", info.Attempts, len(reqs))
	}
	for i, g := range gaps(reqs) {
		if g < time.Second {
			t.Errorf("retry %d sent %v after a 429 with Retry-After: 1", i+1, g)
		}
	}
	if inc, _ := srv.Incident("4212"); inc["status"] != "resolved" {
		t.Errorf("status %v after the retries", inc["status"])
	}
}

func TestRetryAfterHTTPDateIsHonoured(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	until := time.Now().Add(2 * time.Second).UTC()
	srv.FailNext(graphfake.Fault{Method: "GET", PathPrefix: "/v1.0/security/incidents/4211", Status: 429, RetryAfter: until.Format(http.TimeFormat), Times: 1})
	c := client(t, root, nil)
	if _, _, err := c.GetIncident(context.Background(), tenant, "4211"); err != nil {
		t.Fatal(err)
	}
	reqs := srv.RequestsFor("GET", "/v1.0/security/incidents/4211")
	// HTTP dates have whole seconds: the retry must not come before the second
	// the date names.
	if len(reqs) != 2 || reqs[1].Time.Before(until.Truncate(time.Second)) {
		t.Errorf("requests at %v and %v; Retry-After %v", reqs[0].Time, reqs[len(reqs)-1].Time, until)
	}
}

func TestThrottlePausesTheWholeTenant(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	srv.FailNext(graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4212", Status: 429, RetryAfter: "1", Times: 1})
	c := client(t, root, nil)
	start := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		if _, _, err := c.UpdateIncident(context.Background(), tenant, "4212", statusPatch()); err != nil {
			t.Error(err)
		}
	}()
	close(start)
	// Once the 429 has been answered, another call of the same tenant must wait
	// for the Retry-After too.
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.RequestsFor("PATCH", "/v1.0/security/incidents/4212")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no PATCH reached the emulator")
		}
		time.Sleep(5 * time.Millisecond)
	}
	throttledAt := srv.RequestsFor("PATCH", "/v1.0/security/incidents/4212")[0].Time
	if _, _, err := c.GetIncident(context.Background(), tenant, "4213"); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	get := srv.RequestsFor("GET", "/v1.0/security/incidents/4213")
	if len(get) != 1 || get[0].Time.Sub(throttledAt) < time.Second {
		t.Errorf("a call of the throttled tenant was sent %v after the 429", get[0].Time.Sub(throttledAt))
	}
}

func TestLongRetryAfterIsReturnedToTheCaller(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	srv.FailNext(graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4212", Status: 429, RetryAfter: "120", Times: 1})
	c := client(t, root, func(cfg *graph.Config) { cfg.MaxRetryWait = 5 * time.Second })
	_, _, err := c.UpdateIncident(context.Background(), tenant, "4212", statusPatch())
	var ge *graph.Error
	if !errors.As(err, &ge) || !errors.Is(err, graph.ErrThrottled) || !ge.Retryable() || ge.RetryAfter != 2*time.Minute {
		t.Fatalf("err %v", err)
	}
	if n := len(srv.RequestsFor("PATCH", "")); n != 1 {
		t.Errorf("%d requests; a Retry-After beyond MaxRetryWait must not be waited out in-process", n)
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     graphfake.Fault
		kind      error
		retryable bool
		requests  int // with MaxAttempts 3
		succeeds  bool
	}{
		{"503 retried then ok", graphfake.Fault{Status: 503, Times: 2}, nil, true, 3, true},
		{"500 retried then ok", graphfake.Fault{Status: 500, Times: 1}, nil, true, 2, true},
		{"504 exhausts attempts", graphfake.Fault{Status: 504, Times: 5}, graph.ErrUnavailable, true, 3, false},
		{"400 is permanent", graphfake.Fault{Status: 400, Code: "invalidRequest", Times: 1}, graph.ErrInvalid, false, 1, false},
		{"403 is an auth failure", graphfake.Fault{Status: 403, Code: "accessDenied", Times: 1}, graph.ErrAuth, true, 2, true},
		{"409 is permanent", graphfake.Fault{Status: 409, Times: 1}, graph.ErrInvalid, false, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, root := emulator(t, graphfake.Options{})
			tt.fault.Method, tt.fault.PathPrefix = "GET", "/v1.0/security/incidents/4211"
			srv.FailNext(tt.fault)
			_, _, err := client(t, root, nil).GetIncident(context.Background(), tenant, "4211")
			if n := len(srv.RequestsFor("GET", "/v1.0/security/incidents/4211")); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			if tt.succeeds {
				if err != nil {
					t.Errorf("err %v", err)
				}
				return
			}
			var ge *graph.Error
			if !errors.As(err, &ge) || !errors.Is(err, tt.kind) || ge.Retryable() != tt.retryable || ge.Status != tt.fault.Status {
				t.Errorf("err %#v", err)
			}
			if graph.IsRetryable(err) != tt.retryable {
				t.Errorf("IsRetryable = %v", !tt.retryable)
			}
		})
	}
}

func TestNonIdempotentWritesAreNotRetriedWhenAmbiguous(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	srv.FailNext(graphfake.Fault{Method: "POST", PathPrefix: "/v1.0/security/incidents/4213/comments", Status: 500, Times: 1})
	_, _, err := c.AddComment(context.Background(), tenant, "4213", "once")
	var ge *graph.Error
	if !errors.As(err, &ge) || !ge.Retryable() || !ge.Ambiguous() {
		t.Fatalf("a 500 on a comment must be a retryable, ambiguous failure: %v", err)
	}
	if n := len(srv.RequestsFor("POST", "/v1.0/security/incidents/4213/comments")); n != 1 {
		t.Errorf("%d comment requests; an ambiguous failure must not be retried in-process", n)
	}
	// A 429 says the comment was not applied: it is retried, and posted once.
	srv.FailNext(graphfake.Fault{Method: "POST", PathPrefix: "/v1.0/security/incidents/4213/comments", Status: 429, RetryAfter: "0", Times: 1})
	if _, _, err := c.AddComment(context.Background(), tenant, "4213", "once"); err != nil {
		t.Fatal(err)
	}
	if got := srv.Comments("4213"); len(got) != 1 {
		t.Errorf("%d comments, want 1", len(got))
	}
	// A 503 may come from a gateway after the service applied the write: it
	// is retryable, ambiguous, and not retried in-process.
	srv.FailNext(graphfake.Fault{Method: "POST", PathPrefix: "/api/indicators", Status: 503, RetryAfter: "0", Times: 1})
	_, _, err = c.BlockFileHash(context.Background(), tenant, graph.BlockRequest{Hash: "0123456789abcdef0123456789abcdef", Rule: "r", Reason: "x"})
	if !errors.As(err, &ge) || !ge.Ambiguous() || !ge.Retryable() {
		t.Errorf("a 503 is retryable and ambiguous: %v", err)
	}
	if n := len(srv.RequestsFor("POST", "/api/indicators")); n != 1 {
		t.Errorf("%d indicator requests; an ambiguous failure must not be retried in-process", n)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{Latency: 2 * time.Second})
	c := client(t, root, func(cfg *graph.Config) {
		cfg.Timeout = 100 * time.Millisecond
		cfg.MaxAttempts = 2
	})
	_, info, err := c.GetIncident(context.Background(), tenant, "4211")
	var ge *graph.Error
	if !errors.As(err, &ge) || !errors.Is(err, graph.ErrUnavailable) || ge.Status != 0 || info.Attempts != 2 {
		t.Fatalf("err %v, attempts %d", err, info.Attempts)
	}
	if !ge.Ambiguous() {
		t.Error("a timed-out request may have been applied: it is ambiguous")
	}
	_ = srv
}

func TestContextCancellationIsNotAGraphError(t *testing.T) {
	t.Parallel()
	_, root := emulator(t, graphfake.Options{Latency: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := client(t, root, nil).GetIncident(ctx, tenant, "4211")
	var ge *graph.Error
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ge) {
		t.Errorf("err %v (%T)", err, err)
	}
}

func TestRateLimiterKeepsUnderGraphLimits(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, perMinute int) (throttled int) {
		srv, root := emulator(t, graphfake.Options{RateLimits: []graphfake.RateLimit{{Requests: 4, Window: time.Second}}})
		c := client(t, root, func(cfg *graph.Config) {
			cfg.IncidentRate = graph.RateLimit{PerMinute: perMinute, Burst: 1}
			cfg.MaxAttempts = 1
		})
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _ = c.GetIncident(context.Background(), tenant, "4211")
			}()
		}
		wg.Wait()
		for _, r := range srv.Requests() {
			if r.Status == 429 {
				throttled++
			}
		}
		return throttled
	}
	if n := run(t, 180); n != 0 { // 3/s under Graph's 4/s
		t.Errorf("%d requests throttled with the limiter under Graph's limit", n)
	}
	if n := run(t, 600000); n == 0 {
		t.Error("without a limit Graph throttled nothing: the test cannot tell")
	}
}

// TestRateLimitBeyondDeadlineIsThrottled: a call the tenant's budget cannot
// fit before the caller's deadline fails at once as a retryable throttle, with
// the wait, and is not sent.
func TestRateLimitBeyondDeadlineIsThrottled(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, func(cfg *graph.Config) {
		legacy(cfg)
		cfg.SecurityActionRate = graph.RateLimit{PerMinute: 1, Burst: 1}
	})
	block := func(ctx context.Context, hash string) error {
		_, _, err := c.BlockFileHash(ctx, tenant, graph.BlockRequest{Hash: strings.Repeat(hash, 64), Reason: "x"})
		return err
	}
	if err := block(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := block(ctx, "b")
	var ge *graph.Error
	if !errors.As(err, &ge) || !errors.Is(err, graph.ErrThrottled) || !graph.IsRetryable(err) {
		t.Fatalf("err %v (%T), want a retryable throttle", err, err)
	}
	if ge.RetryAfter < 50*time.Second || ge.RetryAfter > time.Minute || ctx.Err() != nil {
		t.Errorf("retry after %v (ctx %v), want about a minute, at once", ge.RetryAfter, ctx.Err())
	}
	if n := len(srv.RequestsFor("POST", "/beta/security/securityActions")); n != 1 {
		t.Errorf("%d security actions sent, want 1", n)
	}
}

func TestSecurityActionsHaveTheirOwnBudget(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, func(cfg *graph.Config) {
		legacy(cfg)
		cfg.SecurityActionRate = graph.RateLimit{PerMinute: 120, Burst: 1} // 2/s
	})
	start := time.Now()
	for i := range 3 {
		if _, _, err := c.BlockFileHash(context.Background(), tenant, graph.BlockRequest{Hash: "0123456789abcdef0123456789abcde" + string(rune('0'+i)), Reason: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := srv.RequestsFor("POST", "/beta/security/securityActions")
	for i, g := range gaps(reqs) {
		if g < 400*time.Millisecond {
			t.Errorf("security action %d sent %v after the previous one with a 2/s budget", i+2, g)
		}
	}
	// Incident calls are not held by the security-action budget.
	if _, _, err := c.GetIncident(context.Background(), tenant, "4211"); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("too slow")
	}
}

func TestObserverSeesEveryAttempt(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	srv.FailNext(graphfake.Fault{Method: "GET", PathPrefix: "/v1.0/security/incidents/4211", Status: 503, RetryAfter: "0", Times: 1})
	var mu sync.Mutex
	var events []graph.RequestEvent
	c := client(t, root, nil, graph.WithObserver(func(e graph.RequestEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	if _, _, err := c.GetIncident(context.Background(), tenant, "4211"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Status != 503 || events[0].Err == nil || events[1].Status != 200 || events[1].Err != nil ||
		events[1].Attempt != 2 || events[0].Op != "get incident" || events[0].Tenant != tenant {
		t.Errorf("events %+v", events)
	}
}
