package graphfake_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestGetIncident(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{})

	t.Run("without expand", func(t *testing.T) {
		t.Parallel()
		r := c.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 200)
		inc := r.json(t)
		if _, ok := inc["alerts"]; ok {
			t.Error("alerts present without $expand")
		}
		if inc["id"] != "4211" || inc["status"] != "inProgress" || inc["severity"] != "high" {
			t.Errorf("unexpected incident %v", inc)
		}
		if !strings.HasSuffix(inc["@odata.context"].(string), "/v1.0/$metadata#security/incidents/$entity") {
			t.Errorf("@odata.context %v", inc["@odata.context"])
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		if r.header.Get("request-id") == "" {
			t.Error("no request-id header")
		}
	})
	t.Run("with expand", func(t *testing.T) {
		t.Parallel()
		inc := c.do("GET", "/v1.0/security/incidents/4211?$expand=alerts", nil).expect(t, 200).json(t)
		alerts, _ := inc["alerts"].([]any)
		if len(alerts) != 2 {
			t.Fatalf("%d alerts, want 2", len(alerts))
		}
		ev := alerts[0].(map[string]any)["evidence"].([]any)
		if len(ev) == 0 {
			t.Error("evidence missing")
		}
	})
	t.Run("expand percent-encoded as the SDK sends it", func(t *testing.T) {
		t.Parallel()
		inc := c.do("GET", "/v1.0/security/incidents/4212?%24expand=alerts", nil).expect(t, 200).json(t)
		if _, ok := inc["alerts"]; !ok {
			t.Error("alerts missing with %24expand")
		}
	})
	t.Run("select", func(t *testing.T) {
		t.Parallel()
		inc := c.do("GET", "/v1.0/security/incidents/4212?$select=status,severity", nil).expect(t, 200).json(t)
		if inc["status"] != "active" || inc["severity"] != "medium" || inc["id"] != "4212" || inc["displayName"] != nil {
			t.Errorf("unexpected $select result %v", inc)
		}
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		r := c.do("GET", "/v1.0/security/incidents/999999", nil).expect(t, 404)
		if code := r.errorCode(t); code != "itemNotFound" {
			t.Errorf("code %q", code)
		}
	})
	t.Run("bad expand", func(t *testing.T) {
		t.Parallel()
		r := c.do("GET", "/v1.0/security/incidents/4211?$expand=comments", nil).expect(t, 400)
		if code := r.errorCode(t); code != "invalidRequest" {
			t.Errorf("code %q", code)
		}
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		open   bool
		header string
		want   int
	}{
		{"no token", false, "", 401},
		{"basic auth", false, "Basic dXNlcjpwYXNz", 401},
		{"empty bearer", false, "Bearer ", 401},
		{"bearer", false, "Bearer abc", 200},
		{"bearer lower-case scheme", false, "bearer abc", 200},
		{"open without token", true, "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, c := start(t, graphfake.Options{Open: tc.open})
			c = c.withToken("")
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			r := c.do("GET", "/v1.0/security/incidents/4211", nil, hdr...).expect(t, tc.want)
			if tc.want == 401 {
				if code := r.errorCode(t); code != "InvalidAuthenticationToken" {
					t.Errorf("code %q", code)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	t.Run("SetOpen at run time", func(t *testing.T) {
		t.Parallel()
		s, c := start(t, graphfake.Options{})
		c = c.withToken("")
		c.do("GET", "/v1.0/security/incidents", nil).expect(t, 401)
		s.SetOpen(true)
		c.do("GET", "/v1.0/security/incidents", nil).expect(t, 200)
	})
}

func TestTenantScoping(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{})
	if err := s.SeedDir("testdata/seed"); err != nil {
		t.Fatal(err)
	}
	asA := c.withToken(jwt(map[string]any{"tid": tenantA, "appid": "app-1"}))
	asB := c.withToken(jwt(map[string]any{"tid": tenantB}))
	noTenant := c.withToken(jwt(map[string]any{"sub": "x"}))

	tests := []struct {
		name    string
		c       *client
		wantIDs []string
	}{
		{"tenant A", asA, []string{"4211", "4212", "4213"}},
		{"tenant B", asB, []string{"9001", "9002"}},
		{"JWT without tid", noTenant, []string{"4211", "4212", "4213", "9001", "9002"}},
		{"opaque token", c, []string{"4211", "4212", "4213", "9001", "9002"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ids(t, tc.c.do("GET", "/v1.0/security/incidents", nil).expect(t, 200).json(t))
			if !slices.Equal(got, tc.wantIDs) {
				t.Errorf("ids %v, want %v", got, tc.wantIDs)
			}
		})
	}
	t.Run("other tenant's incident is 404", func(t *testing.T) {
		t.Parallel()
		asA.do("GET", "/v1.0/security/incidents/9001", nil).expect(t, 404)
		asB.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 404)
		asB.do("PATCH", "/v1.0/security/incidents/4212", map[string]any{"status": "resolved"}).expect(t, 404)
		asB.do("POST", "/v1.0/security/incidents/4212/comments", map[string]any{"comment": "x"}).expect(t, 404)
		asA.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 200)
	})
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{})
	t0 := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	if err := s.Seed(incidentCopies(t, 120, 10000, tenantA, t0)); err != nil {
		t.Fatal(err)
	}
	const total = 123 // 120 copies and the three fixtures

	walk := func(t *testing.T, first string) (all []string, pages []int) {
		t.Helper()
		next := first
		for next != "" {
			if len(pages) > 20 {
				t.Fatal("too many pages")
			}
			body := c.do("GET", next, nil).expect(t, 200).json(t)
			page := ids(t, body)
			all = append(all, page...)
			pages = append(pages, len(page))
			next, _ = body["@odata.nextLink"].(string)
			if next != "" && !strings.HasPrefix(next, c.base+"/v1.0/security/incidents?") {
				t.Fatalf("nextLink %q is not an absolute URL of this server", next)
			}
		}
		return all, pages
	}

	t.Run("default page size", func(t *testing.T) {
		t.Parallel()
		all, pages := walk(t, "/v1.0/security/incidents?$count=true")
		if !slices.Equal(pages, []int{50, 50, 23}) {
			t.Errorf("page sizes %v", pages)
		}
		if len(all) != total {
			t.Fatalf("%d incidents, want %d", len(all), total)
		}
		// Stable order: the fixtures (created 2026-11-20) first, then the copies.
		want := []string{"4211", "4212", "4213"}
		for i := range 120 {
			want = append(want, strconv.Itoa(10000+i))
		}
		if !slices.Equal(all, want) {
			t.Errorf("order %v", all)
		}
	})
	t.Run("top, filter and expand carried", func(t *testing.T) {
		t.Parallel()
		q := url.Values{}
		q.Set("$filter", "createdDateTime ge 2026-11-21T00:00:00Z and status eq 'active'")
		q.Set("$top", "7")
		q.Set("$expand", "alerts")
		q.Set("$count", "true")
		body := c.do("GET", "/v1.0/security/incidents?"+q.Encode(), nil).expect(t, 200).json(t)
		if n := body["@odata.count"]; n != float64(120) {
			t.Errorf("@odata.count %v, want 120", n)
		}
		next, _ := body["@odata.nextLink"].(string)
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		nq := u.Query()
		if nq.Get("$filter") != q.Get("$filter") || nq.Get("$expand") != "alerts" || nq.Get("$top") != "7" || nq.Get("$skip") != "7" {
			t.Errorf("nextLink query %v", nq)
		}
		all, pages := walk(t, "/v1.0/security/incidents?"+q.Encode())
		if len(all) != 120 || len(pages) != 18 || pages[17] != 1 {
			t.Errorf("%d incidents in pages %v", len(all), pages)
		}
		first := c.do("GET", "/v1.0/security/incidents?"+q.Encode(), nil).json(t)
		if alerts := first["value"].([]any)[0].(map[string]any)["alerts"]; alerts == nil {
			t.Error("alerts missing with $expand=alerts")
		}
	})
	t.Run("top capped at 50", func(t *testing.T) {
		t.Parallel()
		body := c.do("GET", "/v1.0/security/incidents?$top=500", nil).expect(t, 200).json(t)
		if n := len(ids(t, body)); n != 50 {
			t.Errorf("page of %d, want 50", n)
		}
	})
	t.Run("skip past the end", func(t *testing.T) {
		t.Parallel()
		body := c.do("GET", "/v1.0/security/incidents?$skip=500", nil).expect(t, 200).json(t)
		if n := len(ids(t, body)); n != 0 || body["@odata.nextLink"] != nil {
			t.Errorf("page of %d, nextLink %v", n, body["@odata.nextLink"])
		}
	})
	t.Run("no alerts without expand", func(t *testing.T) {
		t.Parallel()
		body := c.do("GET", "/v1.0/security/incidents?$top=3", nil).expect(t, 200).json(t)
		for _, v := range body["value"].([]any) {
			if _, ok := v.(map[string]any)["alerts"]; ok {
				t.Error("alerts present without $expand")
			}
		}
		if !strings.HasSuffix(body["@odata.context"].(string), "/v1.0/$metadata#security/incidents") {
			t.Errorf("@odata.context %v", body["@odata.context"])
		}
	})
	t.Run("orderby desc", func(t *testing.T) {
		t.Parallel()
		got := ids(t, c.do("GET", "/v1.0/security/incidents?$orderby=lastUpdateDateTime%20desc&$top=2", nil).expect(t, 200).json(t))
		if !slices.Equal(got, []string{"10119", "10118"}) {
			t.Errorf("ids %v", got)
		}
	})
	t.Run("count endpoint", func(t *testing.T) {
		t.Parallel()
		r := c.do("GET", "/v1.0/security/incidents/$count?$filter=severity%20eq%20'high'", nil).expect(t, 200)
		if string(r.body) != "1" {
			t.Errorf("$count %q, want 1", r.body)
		}
	})
}

func TestListPageSizeOption(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{PageSize: 2})
	body := c.do("GET", "/v1.0/security/incidents", nil).expect(t, 200).json(t)
	if got := ids(t, body); !slices.Equal(got, []string{"4211", "4212"}) {
		t.Errorf("first page %v", got)
	}
	next := body["@odata.nextLink"].(string)
	if got := ids(t, c.do("GET", next, nil).expect(t, 200).json(t)); !slices.Equal(got, []string{"4213"}) {
		t.Errorf("second page %v", got)
	}
}

func TestListQueryErrors(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{})
	for _, q := range []string{
		"$top=-1", "$top=x", "$skip=-5", "$count=yes", "$expand=evidence",
		"$search=ransomware", "$orderby=severity", "$select=nope", "$top=1&$top=2", "$foo=1",
	} {
		t.Run(q, func(t *testing.T) {
			t.Parallel()
			r := c.do("GET", "/v1.0/security/incidents?"+q, nil).expect(t, 400)
			if code := r.errorCode(t); code != "invalidRequest" {
				t.Errorf("code %q", code)
			}
		})
	}
}
