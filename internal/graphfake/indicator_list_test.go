package graphfake_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// listServer holds, in tenant A: 1 sha256 BlockAndRemediate High by appA; 2 sha1 Audit
// by appB titled "o'brien"; 3 md5 Block High by appA with application graphsoar; and
// in tenant B: 4 the same sha256.
func listServer(t *testing.T) (*graphfake.Server, *client) {
	t.Helper()
	s, c, _ := indicatorServer(t, graphfake.Options{NoIndicatorRateLimits: true})
	asA, asAB := asApp(c, tenantA, appA, "a"), asApp(c, tenantA, appB, "b")
	asA.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash, "severity", "High")).expect(t, 200)
	asAB.do("POST", indicatorsPath, indicator("FileSha1", sha1Hash, "action", "Audit", "generateAlert", true, "title", "o'brien")).expect(t, 200)
	asA.do("POST", indicatorsPath, indicator("FileMd5", md5Hash, "action", "Block", "severity", "High", "application", "graphsoar")).expect(t, 200)
	asApp(c, tenantB, appA, "a").do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200)
	return s, asA
}

func TestListIndicators(t *testing.T) {
	t.Parallel()
	_, asA := listServer(t)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"1", "2", "3"}},
		{"$filter=" + url.QueryEscape("indicatorValue eq '"+sha256Hash+"'"), []string{"1"}},
		{"$filter=" + url.QueryEscape("indicatorValue eq '"+strings.ToUpper(sha256Hash)+"'"), []string{"1"}},
		{"$filter=" + url.QueryEscape("indicatorType eq 'FileMd5'"), []string{"3"}},
		{"$filter=" + url.QueryEscape("severity eq 'High' and action eq 'Block'"), []string{"3"}},
		{"$filter=" + url.QueryEscape("(severity eq 'High') and (createdBy eq '"+appA+"')"), []string{"1", "3"}},
		{"$filter=" + url.QueryEscape("createdBy eq '"+appB+"'"), []string{"2"}},
		{"$filter=" + url.QueryEscape("title eq 'o''brien'"), []string{"2"}},
		{"$filter=" + url.QueryEscape("title eq 'O''BRIEN'"), nil}, // only indicatorValue ignores case
		{"$filter=" + url.QueryEscape("application eq 'graphsoar'"), []string{"3"}},
		{"$filter=" + url.QueryEscape("application eq null"), []string{"1", "2"}},
		{"$filter=" + url.QueryEscape("severity eq 'Low'"), nil},
		{"$filter=" + url.QueryEscape("creationTimeDateTimeUtc ge 2026-11-20T12:00:00Z"), []string{"1", "2", "3"}},
		{"$top=2", []string{"1", "2"}},
		{"$skip=1", []string{"2", "3"}},
		{"$skip=1&$top=1", []string{"2"}},
		{"$skip=3", nil},
		{"$top=10000", []string{"1", "2", "3"}},
		{"$filter=" + url.QueryEscape("severity eq 'High'") + "&$skip=1&$top=5", []string{"3"}},
		{"api-version=1", []string{"1", "2", "3"}}, // options without '$' are ignored
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			body := asA.do("GET", indicatorsPath+"?"+tc.query, nil).expect(t, 200).json(t)
			if got := ids(t, body); !reflect.DeepEqual(got, append([]string{}, tc.want...)) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			if ctx := body["@odata.context"]; ctx != asA.base+"/api/$metadata#Indicators" {
				t.Errorf("@odata.context %v", ctx)
			}
		})
	}
}

func TestListIndicatorsInvalid(t *testing.T) {
	t.Parallel()
	_, asA := listServer(t)
	tests := []struct{ query, mention string }{
		{"$filter=" + url.QueryEscape("indicatorValue eq "), "literal"},
		{"$filter=" + url.QueryEscape("indicatorValue eq 'abc"), "unterminated"},
		{"$filter=" + url.QueryEscape("rbacGroupNames eq 'x'"), "rbacGroupNames"},
		{"$filter=" + url.QueryEscape("IndicatorValue eq 'x'"), "IndicatorValue"},
		{"$filter=" + url.QueryEscape("indicatorValue ne 'x'"), "ne"},
		{"$filter=" + url.QueryEscape("action eq 'block'"), "BlockAndRemediate"},
		{"$filter=" + url.QueryEscape("action eq 'Block' or action eq 'Audit'"), "or"},
		{"$filter=" + url.QueryEscape("expirationTime ge 'soon'"), "expirationTime"},
		{"$filter=", "empty"},
		{"$top=0", "$top"},
		{"$top=10001", "$top"},
		{"$top=ten", "$top"},
		{"$skip=-1", "$skip"},
		{"$skip=", "$skip"},
		{"$orderby=title", "$orderby"},
		{"$top=1&$top=2", "$top"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			r := asA.do("GET", indicatorsPath+"?"+tc.query, nil).expect(t, 400)
			if code := r.errorCode(t); code != "BadRequest" {
				t.Errorf("code %q", code)
			}
			if msg := r.json(t)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tc.mention) {
				t.Errorf("message %q does not mention %q", msg, tc.mention)
			}
		})
	}
}

func TestExpiredIndicators(t *testing.T) {
	t.Parallel()
	s, c, clock := indicatorServer(t, graphfake.Options{})
	in1h := t0.Add(time.Hour).Format(time.RFC3339)
	c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash, "expirationTime", in1h)).expect(t, 200)
	c.do("POST", indicatorsPath, indicator("FileSha1", sha1Hash)).expect(t, 200)
	list := func() []string { return ids(t, c.do("GET", indicatorsPath, nil).expect(t, 200).json(t)) }
	if got := list(); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Fatalf("before expiry %v", got)
	}
	clock.Advance(time.Hour) // expirationTime is exclusive
	if got := list(); !reflect.DeepEqual(got, []string{"2"}) {
		t.Errorf("after expiry %v, want [2]", got)
	}
	c.do("GET", indicatorsPath+"/1", nil).expect(t, 200) // still readable by id
	if n := len(s.Indicators("")); n != 2 {
		t.Errorf("Indicators() holds %d, want 2 (expired included)", n)
	}
	// Submitting the value again revives the same indicator.
	c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200)
	if got := list(); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf("after resubmission %v, want [1 2]", got)
	}
}

// FuzzIndicatorFilter checks that no $filter makes the indicator list panic or answer
// anything but 200 or 400.
func FuzzIndicatorFilter(f *testing.F) {
	for _, seed := range []string{
		"indicatorValue eq '" + sha256Hash + "'",
		"indicatorType eq 'FileSha256' and (action eq 'Block')",
		"title eq 'o''brien' and application eq null",
		"expirationTime lt 2026-11-20T12:00:00.1234567+02:00",
		"severity eq 'high'",
		"indicatorValue eq 'abc",
		"((((", "and eq and", "'",
	} {
		f.Add(seed)
	}
	s := graphfake.New(graphfake.Options{Open: true, NoIndicatorRateLimits: true})
	post := httptest.NewRequest(http.MethodPost, indicatorsPath,
		strings.NewReader(`{"indicatorValue":"`+sha256Hash+`","indicatorType":"FileSha256","action":"Block","title":"t","description":"d"}`))
	seeded := httptest.NewRecorder()
	s.ServeHTTP(seeded, post)
	if seeded.Code != 200 {
		f.Fatalf("seeding POST: %d %s", seeded.Code, seeded.Body)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		req := httptest.NewRequest(http.MethodGet, indicatorsPath, nil)
		req.URL.RawQuery = url.Values{"$filter": {filter}}.Encode()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("filter %q: status %d", filter, rec.Code)
		}
		s.ResetRequests()
	})
}
