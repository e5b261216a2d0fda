package graphfake_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// The fixtures: 4211 created 08:01:12.104 updated 09:30:00.000 (inProgress, high,
// tier2@contoso.com); 4212 created 09:10 updated 09:12:30 (active, medium);
// 4213 created 10:00 updated 10:03 (active, medium), all on 2026-11-20.
func TestFilter(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{})
	tests := []struct {
		filter string
		want   []string
	}{
		{"lastUpdateDateTime ge 2026-11-20T09:30:00Z", []string{"4211", "4213"}},
		{"lastUpdateDateTime gt 2026-11-20T09:30:00Z", []string{"4213"}},
		{"lastUpdateDateTime ge 2026-11-20T09:30:00.000Z", []string{"4211", "4213"}},
		{"lastUpdateDateTime gt 2026-11-20T09:29:59.9999999Z", []string{"4211", "4213"}},
		{"lastUpdateDateTime le 2026-11-20T09:30:00Z", []string{"4211", "4212"}},
		{"lastUpdateDateTime lt 2026-11-20T09:30:00Z", []string{"4212"}},
		{"lastUpdateDateTime eq 2026-11-20T09:30:00Z", []string{"4211"}},
		{"lastUpdateDateTime ge 2026-11-20T10:30:00+01:00", []string{"4211", "4213"}},
		{"createdDateTime gt 2026-11-20T08:01:12.104Z", []string{"4212", "4213"}},
		{"createdDateTime ge 2026-11-20T08:01:12.104Z", []string{"4211", "4212", "4213"}},
		{"status eq 'active'", []string{"4212", "4213"}},
		{"status eq 'inProgress'", []string{"4211"}},
		{"severity eq 'high'", []string{"4211"}},
		{"classification eq 'unknown'", []string{"4211", "4212", "4213"}},
		{"determination eq 'malware'", nil},
		{"assignedTo eq 'tier2@contoso.com'", []string{"4211"}},
		{"assignedTo eq null", []string{"4212", "4213"}},
		{"status eq 'active' and severity eq 'medium' and lastUpdateDateTime gt 2026-11-20T09:12:30Z", []string{"4213"}},
		{"(status eq 'active') and (lastUpdateDateTime ge 2026-11-20T09:00:00Z and createdDateTime lt 2026-11-20T10:00:00Z)", []string{"4212"}},
		{"  status   eq   'active'  ", []string{"4212", "4213"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			t.Parallel()
			body := c.do("GET", "/v1.0/security/incidents?$filter="+url.QueryEscape(tc.filter), nil).expect(t, 200).json(t)
			if got := ids(t, body); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterInvalid(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{})
	for _, f := range []string{
		"",
		"severity eq 'High'",
		"classification eq 'TruePositive'",
		"status eq active",
		"status eq \"active\"",
		"status ne 'active'",
		"status gt 'active'",
		"lastUpdateDateTime ge '2026-11-20T09:30:00Z'",
		"lastUpdateDateTime ge 2026-11-20",
		"lastUpdateDateTime ge null",
		"displayName eq 'x'",
		"status eq 'active' or severity eq 'high'",
		"not status eq 'active'",
		"status eq 'active' and",
		"status eq 'active' severity eq 'high'",
		"(status eq 'active'",
		"status eq 'active')",
		"status eq 'active",
		"startswith(displayName,'Ransom')",
		"Status eq 'active'",
		"status EQ 'active'",
		"alerts/any(a: a/severity eq 'high')",
	} {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			r := c.do("GET", "/v1.0/security/incidents?$filter="+url.QueryEscape(f), nil).expect(t, 400)
			if code := r.errorCode(t); code != "invalidRequest" {
				t.Errorf("code %q", code)
			}
		})
	}
}

// FuzzFilter checks that no $filter makes the emulator panic or answer anything but
// 200 or 400.
func FuzzFilter(f *testing.F) {
	for _, seed := range []string{
		"lastUpdateDateTime ge 2026-11-20T09:30:00Z",
		"status eq 'active' and severity eq 'high'",
		"((createdDateTime lt 2026-11-20T09:30:00.1234567+02:00))",
		"assignedTo eq 'o''brien@contoso.com'",
		"assignedTo eq null and (status eq 'inProgress')",
		"status eq 'active",
		"(((((((",
		"and and and",
		"'",
	} {
		f.Add(seed)
	}
	s := graphfake.New(graphfake.Options{Open: true})
	if err := s.SeedFS(fixtures.FS()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		req := httptest.NewRequest(http.MethodGet, "/v1.0/security/incidents", nil)
		req.URL.RawQuery = url.Values{"$filter": {filter}}.Encode()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("filter %q: status %d", filter, rec.Code)
		}
		s.ResetRequests()
	})
}
