package graphfake_test

import (
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestRequestLog(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	s, c := start(t, graphfake.Options{Now: clock.Now})
	tok := jwt(map[string]any{"tid": tenantA})
	asA := c.withToken(tok)

	r := asA.do("PATCH", "/v1.0/security/incidents/4212?x=1", `{"status":"resolved"}`, "client-request-id", "my-id-1").expect(t, 200)
	if r.header.Get("client-request-id") != "my-id-1" {
		t.Errorf("client-request-id echo %q", r.header.Get("client-request-id"))
	}
	asA.do("GET", "/v1.0/security/incidents/nope", nil).expect(t, 404)
	c.withToken("").do("GET", "/v1.0/security/incidents", nil).expect(t, 401)

	all := s.Requests()
	if len(all) != 3 {
		t.Fatalf("%d requests logged, want 3", len(all))
	}
	p := all[0]
	if p.Method != "PATCH" || p.Path != "/v1.0/security/incidents/4212" || p.RawQuery != "x=1" ||
		p.Tenant != tenantA || p.Status != 200 || string(p.Body) != `{"status":"resolved"}` ||
		!p.Time.Equal(clock.Now()) || p.RequestID != r.header.Get("request-id") {
		t.Errorf("logged %+v", p)
	}
	if got := p.Header.Get("Authorization"); got != graphfake.Redacted {
		t.Errorf("Authorization logged as %q", got)
	}
	for _, e := range all {
		for k, vs := range e.Header {
			if strings.Contains(strings.Join(vs, ","), tok) {
				t.Errorf("token leaked in header %s", k)
			}
		}
	}
	if p.Header.Get("client-request-id") != "my-id-1" {
		t.Errorf("headers not kept: %v", p.Header)
	}
	if all[1].Status != 404 || all[2].Status != 401 || all[2].Tenant != "" {
		t.Errorf("statuses %d %d, tenant %q", all[1].Status, all[2].Status, all[2].Tenant)
	}

	if got := s.RequestsFor("PATCH", "/v1.0/security/incidents/4212"); len(got) != 1 {
		t.Errorf("RequestsFor PATCH: %d", len(got))
	}
	if got := s.RequestsFor("get", "/v1.0/security/incidents"); len(got) != 2 {
		t.Errorf("RequestsFor get: %d", len(got))
	}
	if got := s.RequestsFor("", "/beta"); len(got) != 0 {
		t.Errorf("RequestsFor /beta: %d", len(got))
	}

	// The log hands out copies.
	all[0].Body[0] = 'X'
	all[0].Header.Set("client-request-id", "changed")
	if again := s.Requests()[0]; again.Body[0] != '{' || again.Header.Get("client-request-id") != "my-id-1" {
		t.Error("Requests did not return copies")
	}

	s.ResetRequests()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests after reset", n)
	}
}

func TestRequestLogLimit(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{LogLimit: 3})
	for i := range 10 {
		c.do("GET", "/v1.0/security/incidents?n="+string(rune('0'+i)), nil).expect(t, 200)
	}
	got := s.Requests()
	if len(got) != 3 || got[0].RawQuery != "n=7" || got[2].RawQuery != "n=9" {
		t.Errorf("kept %v", got)
	}
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{})
	tests := []struct {
		method, path string
		want         int
		wantCode     string
		allow        string
	}{
		{"GET", "/v1.0/security/alerts_v2", 404, "itemNotFound", ""},
		{"GET", "/v1.0/me", 404, "itemNotFound", ""},
		{"GET", "/", 404, "itemNotFound", ""},
		{"GET", "/v1.0/security/incidents/4211/alerts", 404, "itemNotFound", ""},
		{"DELETE", "/v1.0/security/incidents/4211", 405, "notAllowed", "GET, PATCH"},
		{"POST", "/v1.0/security/incidents", 405, "notAllowed", "GET"},
		{"GET", "/v1.0/security/incidents/4211/comments", 405, "notAllowed", "POST"},
		{"PUT", "/beta/security/securityActions", 405, "notAllowed", "GET, POST"},
		{"GET", "/v1.0/security/securityActions", 404, "itemNotFound", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			r := c.do(tc.method, tc.path, nil).expect(t, tc.want)
			if code := r.errorCode(t); code != tc.wantCode {
				t.Errorf("code %q", code)
			}
			if got := r.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
	t.Run("case-insensitive segments", func(t *testing.T) {
		t.Parallel()
		c.do("GET", "/v1.0/Security/Incidents/4211", nil).expect(t, 200)
	})
}
