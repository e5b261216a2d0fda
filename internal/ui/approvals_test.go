package ui_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/approval"
)

func held(id string) approval.Record {
	now := time.Now().UTC()
	return approval.Record{ID: id, Tenant: tenant, Incident: "4213", Rule: "flag-vip-user", Action: "tag",
		Params: actions.Params{"tags": []any{"vip"}}, Event: "ev-1", Subject: "security.incidents." + tenant + ".4213",
		Created: now, Deadline: now.Add(24 * time.Hour), Status: approval.Pending}
}

// TestDecisions: approve and reject reach the store with the record's id
// and the deciding name, and the store's answer comes back.
func TestDecisions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noRun: true})
	e.store.records = []approval.Record{held("a1"), held("a2"), held("a3")}
	for _, c := range []struct {
		name, path, body string
		want             int
		call             string // what the store saw; "" nothing
		status           approval.Status
	}{
		{"approve, named", "/api/approvals/a1/approve", `{"by": "alice"}`, 200, "approve a1 alice", approval.Approved},
		{"reject, unnamed", "/api/approvals/a2/reject", ``, 200, "reject a2 live-page", approval.Rejected},
		{"approve, blank name", "/api/approvals/a3/approve", `{"by": "  "}`, 200, "approve a3 live-page", approval.Approved},
		{"decided already", "/api/approvals/a1/reject", `{"by": "bob"}`, 409, "reject a1 bob", ""},
		{"no such record", "/api/approvals/zz/approve", `{}`, 404, "approve zz live-page", ""},
		{"no such decision", "/api/approvals/a1/postpone", `{}`, 404, "", ""},
		{"not JSON", "/api/approvals/a1/approve", `by=alice`, 400, "", ""},
		{"a name with a line break", "/api/approvals/a1/approve", `{"by": "a\nb"}`, 400, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.store.calls())
			code, body := e.do(http.MethodPost, c.path, c.body, map[string]string{"Content-Type": "application/json"})
			if code != c.want {
				t.Fatalf("%d %s, want %d", code, body, c.want)
			}
			calls := e.store.calls()[before:]
			switch {
			case c.call == "" && len(calls) != 0:
				t.Errorf("the store was called: %v", calls)
			case c.call != "" && !slices.Equal(calls, []string{c.call}):
				t.Errorf("the store saw %v, want [%s]", calls, c.call)
			}
			if c.status != "" {
				var rec approval.Record
				if err := json.Unmarshal([]byte(body), &rec); err != nil || rec.Status != c.status || rec.ID == "" {
					t.Errorf("answer %s (%v), want a record with status %s", body, err, c.status)
				}
			}
		})
	}

	code, body := e.do(http.MethodGet, "/api/approvals", "", nil)
	var recs []approval.Record
	if err := json.Unmarshal([]byte(body), &recs); code != 200 || err != nil || len(recs) != 3 || recs[0].Status != approval.Approved || recs[1].Status != approval.Rejected {
		t.Errorf("GET /api/approvals: %d %s", code, body)
	}
	e.store.mu.Lock()
	e.store.fail = errors.New("nats: timeout")
	e.store.mu.Unlock()
	if code, body := e.do(http.MethodGet, "/api/approvals", "", nil); code != http.StatusBadGateway || !strings.Contains(body, "nats: timeout") {
		t.Errorf("a failing store: %d %s", code, body)
	}
	if code, body := e.do(http.MethodPost, "/api/approvals/a3/reject", "", nil); code != http.StatusBadGateway || !strings.Contains(body, "nats: timeout") {
		t.Errorf("a decision the store fails: %d %s", code, body)
	}
}

// TestCrossSiteRequestsRefused: a POST a browser sends from another site
// is refused before it reaches the store, with or without a token.
func TestCrossSiteRequestsRefused(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", token} {
		e := newEnv(t, envOptions{token: tok, noRun: true})
		e.store.records = []approval.Record{held("a1")}
		auth := map[string]string{}
		if tok != "" {
			// A browser on another site cannot set this header, but it
			// sends the cookie; either way the origin check applies.
			auth["Authorization"] = "Bearer " + tok
		}
		for _, c := range []struct {
			name   string
			header map[string]string
			want   int
		}{
			{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
			{"same-site but another origin", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
			{"an older browser from another origin", map[string]string{"Origin": "https://evil.example"}, 403},
			{"the page itself", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.url}, 200},
		} {
			h := map[string]string{"Content-Type": "application/json"}
			for k, v := range auth {
				h[k] = v
			}
			for k, v := range c.header {
				h[k] = v
			}
			before := len(e.store.calls())
			code, body := e.do(http.MethodPost, "/api/approvals/a1/reject", `{"by":"mallory"}`, h)
			if code != c.want {
				t.Errorf("token %v, %s: %d %s, want %d", tok != "", c.name, code, body, c.want)
			}
			if reached := len(e.store.calls()) > before; reached != (c.want == 200) {
				t.Errorf("token %v, %s: the store reached: %v", tok != "", c.name, reached)
			}
			if c.want != 200 {
				if code, _ := e.do(http.MethodPost, "/api/dlq/1/replay", ``, h); code != 403 {
					t.Errorf("token %v, %s: replay %d, want 403", tok != "", c.name, code)
				}
			}
		}
	}
}
