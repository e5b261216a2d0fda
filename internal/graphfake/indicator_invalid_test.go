package graphfake_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestSubmitIndicatorInvalid(t *testing.T) {
	t.Parallel()
	without := func(k string) map[string]any {
		b := indicator("FileSha256", sha256Hash)
		delete(b, k)
		return b
	}
	tests := []struct {
		name  string
		body  any
		names []string // what the message must mention
	}{
		{"missing title", without("title"), []string{"'title'", "required"}},
		{"empty title", indicator("FileSha256", sha256Hash, "title", ""), []string{"'title'"}},
		{"blank description", indicator("FileSha256", sha256Hash, "description", "  "), []string{"'description'"}},
		{"missing description", without("description"), []string{"'description'", "required"}},
		{"missing indicatorValue", without("indicatorValue"), []string{"'indicatorValue'"}},
		{"missing indicatorType", without("indicatorType"), []string{"'indicatorType'"}},
		{"missing action", without("action"), []string{"'action'"}},
		{"null title", indicator("FileSha256", sha256Hash, "title", nil), []string{"'title'"}},
		{"numeric title", indicator("FileSha256", sha256Hash, "title", 7), []string{"'title'", "string"}},
		{"Audit without generateAlert", indicator("FileSha256", sha256Hash, "action", "Audit"), []string{"'generateAlert'", "Audit"}},
		{"Audit with generateAlert false", indicator("FileSha256", sha256Hash, "action", "Audit", "generateAlert", false), []string{"'generateAlert'"}},
		{"bad indicatorType", indicator("Sha256", sha256Hash), []string{"'indicatorType'", "'Sha256'", "FileSha256, IpAddress, DomainName, Url"}},
		{"camelCase indicatorType", indicator("fileSha256", sha256Hash), []string{"'indicatorType'"}},
		{"bad action", indicator("FileSha256", sha256Hash, "action", "Quarantine"), []string{"'action'", "Alert, Warn, Block, Audit, BlockAndRemediate, AlertAndBlock, Allowed"}},
		{"lower-case action", indicator("FileSha256", sha256Hash, "action", "block"), []string{"'action'"}},
		{"bad severity", indicator("FileSha256", sha256Hash, "severity", "Critical"), []string{"'severity'", "Informational, Low, Medium, High"}},
		{"sha256 too short", indicator("FileSha256", sha256Hash[:63]), []string{"'indicatorValue'", "FileSha256", "64"}},
		{"sha1 value as sha256", indicator("FileSha256", sha1Hash), []string{"'indicatorValue'", "64"}},
		{"sha256 value as sha1", indicator("FileSha1", sha256Hash), []string{"'indicatorValue'", "FileSha1", "40"}},
		{"md5 too long", indicator("FileMd5", md5Hash+"0"), []string{"'indicatorValue'", "FileMd5", "32"}},
		{"not hex", indicator("FileMd5", "z"+md5Hash[1:]), []string{"'indicatorValue'", "hexadecimal"}},
		{"bad IP", indicator("IpAddress", "203.0.113.300"), []string{"'indicatorValue'", "IpAddress"}},
		{"unknown property", indicator("FileSha256", sha256Hash, "mode", "block"), []string{"'mode'", "does not exist"}},
		{"odata type", indicator("FileSha256", sha256Hash, "@odata.type", "#Indicator"), []string{"'@odata.type'"}},
		{"bad expirationTime", indicator("FileSha256", sha256Hash, "expirationTime", "next tuesday"), []string{"'expirationTime'"}},
		{"date-only expirationTime", indicator("FileSha256", sha256Hash, "expirationTime", "2026-12-31"), []string{"'expirationTime'"}},
		{"string generateAlert", indicator("FileSha256", sha256Hash, "generateAlert", "true"), []string{"'generateAlert'", "boolean"}},
		{"rbacGroupNames string", indicator("FileSha256", sha256Hash, "rbacGroupNames", "Tier 1"), []string{"'rbacGroupNames'"}},
		{"rbacGroupNames numbers", indicator("FileSha256", sha256Hash, "rbacGroupNames", []any{1}), []string{"'rbacGroupNames'"}},
		{"array body", []any{indicator("FileSha256", sha256Hash)}, []string{"array"}},
		{"not JSON", "{", []string{"Invalid request body"}},
	}
	s, c, _ := indicatorServer(t, graphfake.Options{NoIndicatorRateLimits: true})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := c.do("POST", indicatorsPath, tc.body).expect(t, 400)
			if code := r.errorCode(t); code != "BadRequest" {
				t.Errorf("code %q, want BadRequest", code)
			}
			msg := r.json(t)["error"].(map[string]any)["message"].(string)
			for _, want := range tc.names {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not mention %q", msg, want)
				}
			}
		})
	}
	t.Cleanup(func() {
		if got := s.Indicators(""); got != nil {
			t.Errorf("rejected submissions were stored: %v", got)
		}
	})
}

func TestIndicatorRoutes(t *testing.T) {
	t.Parallel()
	_, c, _ := indicatorServer(t, graphfake.Options{})
	c.do("POST", "/API/Indicators", indicator("FileSha256", sha256Hash)).expect(t, 200)
	c.do("GET", "/api/INDICATORS/1", nil).expect(t, 200)
	c.do("GET", "/api/indicators/", nil).expect(t, 200)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PUT", indicatorsPath, 405, "GET, POST"},
		{"PATCH", indicatorsPath + "/1", 405, "DELETE, GET"},
		{"GET", indicatorsPath + "/1/x", 404, ""},
		{"GET", "/api/machines", 404, ""},
		{"GET", "/api", 404, ""},
	}
	for _, tc := range tests {
		r := c.do(tc.method, tc.path, nil).expect(t, tc.status)
		r.errorCode(t)
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	// Graph's routes are untouched.
	c.do("GET", "/v1.0/security/incidents/4211", nil).expect(t, 200)
}

func TestIndicatorScriptedFaultAndLog(t *testing.T) {
	t.Parallel()
	s, c, _ := indicatorServer(t, graphfake.Options{})
	s.FailNext(graphfake.Fault{Method: "POST", PathPrefix: indicatorsPath, Status: http.StatusServiceUnavailable, RetryAfter: "2"})
	c.do("GET", indicatorsPath, nil).expect(t, 200) // not matched
	r := c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 503)
	if code := r.errorCode(t); code != "serviceNotAvailable" || r.header.Get("Retry-After") != "2" {
		t.Errorf("code %q, Retry-After %q", code, r.header.Get("Retry-After"))
	}
	if got := s.Indicators(""); got != nil {
		t.Fatalf("a faulted POST was applied: %v", got)
	}
	c.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200)

	posts := s.RequestsFor("POST", indicatorsPath)
	if len(posts) != 2 || posts[0].Status != 503 || posts[1].Status != 200 ||
		!strings.Contains(string(posts[1].Body), sha256Hash) || posts[1].Header.Get("Authorization") != graphfake.Redacted {
		t.Errorf("request log %+v", posts)
	}
}
