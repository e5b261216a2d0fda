package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// TestBlockFileHashSubmitsAnIndicator: the default backend posts Defender's
// "submit or update indicator" body, exactly, for each hash type, with the
// tenant's bearer token; the emulator stores one indicator per value.
func TestBlockFileHashSubmitsAnIndicator(t *testing.T) {
	t.Parallel()
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		req  graph.BlockRequest
		want map[string]any
	}{
		{"sha256 with defaults", graph.BlockRequest{Hash: strings.Repeat("Ab", 32), Rule: "block-ransomware", Reason: "Known ransomware"},
			map[string]any{"indicatorValue": strings.Repeat("ab", 32), "indicatorType": "FileSha256", "action": "BlockAndRemediate",
				"title": "graphsoar: block-ransomware", "description": "Known ransomware", "severity": "High",
				"application": "graphsoar", "generateAlert": false}},
		{"sha1 audit with expiry and groups", graph.BlockRequest{Hash: strings.Repeat("cd", 20), Rule: "r", Reason: "watch it",
			Mode: "Audit", Severity: "Medium", Expiration: expires, RBACGroupNames: []string{"Finance", "Servers"}},
			map[string]any{"indicatorValue": strings.Repeat("cd", 20), "indicatorType": "FileSha1", "action": "Audit",
				"title": "graphsoar: r", "description": "watch it", "severity": "Medium", "application": "graphsoar",
				"generateAlert": true, "expirationTime": "2027-01-01T00:00:00Z", "rbacGroupNames": []any{"Finance", "Servers"}}},
		{"md5 block", graph.BlockRequest{Hash: strings.Repeat("0f", 16), Rule: "r", Reason: "x", Mode: "Block", Severity: "Low"},
			map[string]any{"indicatorValue": strings.Repeat("0f", 16), "indicatorType": "FileMd5", "action": "Block",
				"title": "graphsoar: r", "description": "x", "severity": "Low", "application": "graphsoar", "generateAlert": false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, root := emulator(t, graphfake.Options{})
			c := client(t, root, nil)
			b, info, err := c.BlockFileHash(context.Background(), tenant, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if b.Backend != graph.BlockIndicators || b.ID == "" || info.Status != 200 {
				t.Fatalf("block %+v info %+v", b, info)
			}
			reqs := srv.RequestsFor("POST", "/api/indicators")
			if len(reqs) != 1 {
				t.Fatalf("%d indicator requests", len(reqs))
			}
			var body map[string]any
			if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(body, tt.want) {
				t.Errorf("body\n%v\nwant\n%v", body, tt.want)
			}
			if reqs[0].Tenant != tenant || reqs[0].Header.Get("Authorization") != graphfake.Redacted {
				t.Errorf("sent for tenant %q with Authorization %q", reqs[0].Tenant, reqs[0].Header.Get("Authorization"))
			}
			if stored := srv.Indicators(tenant); len(stored) != 1 || stored[0]["id"] != b.ID {
				t.Errorf("stored %v, want the one indicator %s", stored, b.ID)
			}
		})
	}
}

// TestFindBlockAndUnblockIndicator: after a crash, FindBlock asks Defender
// with $filter=indicatorValue eq '<hash>'; Unblock deletes the indicator.
func TestFindBlockAndUnblockIndicator(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, nil)
	ctx := context.Background()
	hash := strings.Repeat("9f", 32)
	req := graph.BlockRequest{Hash: hash, Rule: "r", Reason: "x"}
	if b, err := c.FindBlock(ctx, tenant, req); err != nil || b != nil {
		t.Fatalf("before the block: %+v %v", b, err)
	}
	made, _, err := c.BlockFileHash(ctx, tenant, req)
	if err != nil {
		t.Fatal(err)
	}
	// An upper-case request finds the lower-case indicator.
	found, err := c.FindBlock(ctx, tenant, graph.BlockRequest{Hash: strings.ToUpper(hash)})
	if err != nil || found == nil || *found != made {
		t.Fatalf("FindBlock = %+v, %v; want %+v", found, err, made)
	}
	gets := srv.RequestsFor("GET", "/api/indicators")
	q, _ := url.ParseQuery(gets[len(gets)-1].RawQuery)
	if got := q.Get("$filter"); got != "indicatorValue eq '"+hash+"'" {
		t.Errorf("$filter %q", got)
	}
	if _, err := c.Unblock(ctx, tenant, made); err != nil {
		t.Fatal(err)
	}
	if dels := srv.RequestsFor("DELETE", "/api/indicators/"+made.ID); len(dels) != 1 || dels[0].Status != 204 {
		t.Errorf("delete requests %+v", dels)
	}
	if b, err := c.FindBlock(ctx, tenant, req); err != nil || b != nil {
		t.Errorf("after Unblock: %+v %v", b, err)
	}
	// Deleting again is not an error: the indicator is gone either way.
	if _, err := c.Unblock(ctx, tenant, made); err != nil {
		t.Errorf("second Unblock: %v", err)
	}
}

// TestIndicatorThrottling: Defender's 429 is a retryable throttle with its
// Retry-After, is not sent again while Retry-After exceeds the in-process
// wait, and holds the tenant's other calls.
func TestIndicatorThrottling(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{IndicatorRateLimits: []graphfake.RateLimit{{Requests: 2, Window: time.Minute}}})
	c := client(t, root, func(cfg *graph.Config) { cfg.MaxRetryWait = time.Second })
	ctx := context.Background()
	for i := range 2 {
		if _, _, err := c.BlockFileHash(ctx, tenant, graph.BlockRequest{Hash: strings.Repeat(string(rune('a'+i)), 64), Rule: "r", Reason: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err := c.BlockFileHash(ctx, tenant, graph.BlockRequest{Hash: strings.Repeat("c", 64), Rule: "r", Reason: "x"})
	var ge *graph.Error
	if !errors.As(err, &ge) || !errors.Is(err, graph.ErrThrottled) || !ge.Retryable() || ge.Ambiguous() {
		t.Fatalf("err %v, want a retryable, unambiguous throttle", err)
	}
	if ge.RetryAfter < 30*time.Second || ge.RetryAfter > time.Minute {
		t.Errorf("Retry-After %v, want the emulator's wait of about a minute", ge.RetryAfter)
	}
	if n := len(srv.RequestsFor("POST", "/api/indicators")); n != 3 {
		t.Errorf("%d submits, want 3 (the 429 not retried in-process: its wait is longer than MaxRetryWait)", n)
	}
	// The tenant is paused: a call within the pause waits or reports the
	// throttle instead of hitting Defender again.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := c.FindIndicator(short, tenant, strings.Repeat("c", 64)); err == nil {
		t.Error("a call during the pause succeeded")
	}
	if n := len(srv.RequestsFor("", "/api/indicators")); n != 3 {
		t.Errorf("%d indicator requests, want 3: the paused tenant must not call Defender", n)
	}
}

// TestIndicatorBudget: the client keeps a tenant within its indicator budget
// on its own, before Defender throttles.
func TestIndicatorBudget(t *testing.T) {
	t.Parallel()
	srv, root := emulator(t, graphfake.Options{})
	c := client(t, root, func(cfg *graph.Config) {
		cfg.Defender.IndicatorRate = graph.RateLimit{PerMinute: 120, PerHour: 1500, Burst: 1} // 2/s
	})
	for i := range 3 {
		if _, _, err := c.BlockFileHash(context.Background(), tenant, graph.BlockRequest{Hash: strings.Repeat(string(rune('a'+i)), 64), Rule: "r", Reason: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range gaps(srv.RequestsFor("POST", "/api/indicators")) {
		if g < 400*time.Millisecond {
			t.Errorf("indicator %d sent %v after the previous one with a 2/s budget", i+2, g)
		}
	}
}

// TestLegacyWarning: choosing securityActions against Microsoft's Graph
// warns with the retirement date; against the emulator it does not.
func TestLegacyWarning(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		root string
		with graph.BlockBackend
		warn bool
	}{
		{"https://graph.microsoft.com", graph.BlockSecurityActions, true},
		{"https://graph.microsoft.us", graph.BlockSecurityActions, true},
		{"http://127.0.0.1:8081", graph.BlockSecurityActions, false},
		{"https://graph.microsoft.com", graph.BlockIndicators, false},
		{"https://graph.microsoft.com", "", false},
	} {
		cfg := graph.Config{Root: tt.root, Defender: graph.Defender{BlockWith: tt.with}}
		w := cfg.LegacyWarning()
		if (w != "") != tt.warn || (tt.warn && !strings.Contains(w, graph.SecurityActionsRetired)) {
			t.Errorf("%s %s: warning %q", tt.root, tt.with, w)
		}
	}
}
