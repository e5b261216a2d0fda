package graphfake_test

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestPatchValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		want     int
		mentions string // the error message names this
	}{
		{"classify camelCase", `{"@odata.type":"#microsoft.graph.security.incident","classification":"truePositive","determination":"malware"}`, 200, ""},
		{"status", `{"status":"resolved"}`, 200, ""},
		{"assign", `{"assignedTo":"soc@contoso.com"}`, 200, ""},
		{"unassign", `{"assignedTo":null}`, 200, ""},
		{"tags", `{"customTags":["a","b"]}`, 200, ""},
		{"empty body object", `{}`, 200, ""},
		{"odata.type without hash", `{"@odata.type":"microsoft.graph.security.incident"}`, 200, ""},
		{"PascalCase classification", `{"classification":"TruePositive"}`, 400, "TruePositive"},
		{"PascalCase status", `{"status":"Resolved"}`, 400, "Resolved"},
		{"unknown determination", `{"determination":"ransomware"}`, 400, "ransomware"},
		{"awaitingAction without Prefer", `{"status":"awaitingAction"}`, 400, "awaitingAction"},
		{"numeric status", `{"status":2}`, 400, "status"},
		{"null classification", `{"classification":null}`, 400, "classification"},
		{"unknown property", `{"status":"resolved","severity":"low"}`, 400, "severity"},
		{"read-only property", `{"displayName":"x"}`, 400, "displayName"},
		{"tags not an array", `{"customTags":"a"}`, 400, "customTags"},
		{"tags not strings", `{"customTags":["a",1]}`, 400, "customTags"},
		{"wrong odata.type", `{"@odata.type":"#microsoft.graph.security.alert"}`, 400, "odata.type"},
		{"not json", `status=resolved`, 400, ""},
		{"array body", `[{"status":"resolved"}]`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t, graphfake.Options{})
			before, _ := s.Incident("4212")
			r := c.do("PATCH", "/v1.0/security/incidents/4212", tc.body).expect(t, tc.want)
			if tc.want == 200 {
				inc := r.json(t)
				if _, ok := inc["alerts"]; ok {
					t.Error("PATCH response includes alerts")
				}
				if inc["id"] != "4212" {
					t.Errorf("PATCH response %v", inc)
				}
				return
			}
			if code := r.errorCode(t); code != "invalidRequest" {
				t.Errorf("code %q", code)
			}
			if !strings.Contains(string(r.body), tc.mentions) {
				t.Errorf("error %s does not mention %q", r.body, tc.mentions)
			}
			if after, _ := s.Incident("4212"); !sameIncident(before, after) {
				t.Error("a rejected PATCH changed the incident")
			}
		})
	}
}

func sameIncident(a, b map[string]any) bool {
	for _, k := range []string{"status", "classification", "determination", "assignedTo", "lastUpdateDateTime", "lastModifiedBy"} {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func TestPatchLastUpdate(t *testing.T) {
	t.Parallel()
	// A frozen clock earlier than the fixtures: stamps must still move forward.
	clock := newClock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	s, c := start(t, graphfake.Options{Now: clock.Now})
	path := "/v1.0/security/incidents/4211"
	last := mustTime(t, "2026-11-20T09:30:00.000Z")

	patch := func(body string) map[string]any {
		t.Helper()
		return c.do("PATCH", path, body).expect(t, 200).json(t)
	}
	for i, body := range []string{
		`{"classification":"truePositive","determination":"malware"}`,
		`{"status":"resolved"}`,
		`{"customTags":["analyst-reviewed","graphsoar"]}`,
	} {
		inc := patch(body)
		at := mustTime(t, inc["lastUpdateDateTime"])
		if !at.After(last) {
			t.Errorf("change %d: lastUpdateDateTime %v not after %v", i, at, last)
		}
		if !strings.HasSuffix(inc["lastUpdateDateTime"].(string), "Z") || !strings.Contains(inc["lastUpdateDateTime"].(string), ".") {
			t.Errorf("lastUpdateDateTime %v not in Graph's format", inc["lastUpdateDateTime"])
		}
		if inc["lastModifiedBy"] != graphfake.DefaultDisplayName {
			t.Errorf("lastModifiedBy %v", inc["lastModifiedBy"])
		}
		last = at
	}

	// No-op PATCH: 200, nothing moves.
	inc := patch(`{"status":"resolved","classification":"truePositive","customTags":["analyst-reviewed","graphsoar"]}`)
	if !mustTime(t, inc["lastUpdateDateTime"]).Equal(last) {
		t.Errorf("no-op PATCH moved lastUpdateDateTime to %v", inc["lastUpdateDateTime"])
	}
	stored, _ := s.Incident("4211")
	if stored["status"] != "resolved" || stored["determination"] != "malware" {
		t.Errorf("stored %v/%v", stored["status"], stored["determination"])
	}

	// A real clock tick gives the clock's own time.
	clock.Advance(2 * time.Hour)
	inc = patch(`{"assignedTo":"tier3@contoso.com"}`)
	if inc["lastUpdateDateTime"] != "2026-11-20T11:00:00.0000000Z" {
		t.Errorf("lastUpdateDateTime %v, want the clock's time", inc["lastUpdateDateTime"])
	}

	// The caller's name from a JWT is the modifier.
	named := c.withToken(jwt(map[string]any{"tid": tenantA, "app_displayname": "graphsoar-prod"}))
	inc = named.do("PATCH", path, `{"assignedTo":"tier2@contoso.com"}`).expect(t, 200).json(t)
	if inc["lastModifiedBy"] != "graphsoar-prod" {
		t.Errorf("lastModifiedBy %v", inc["lastModifiedBy"])
	}

	c.do("PATCH", "/v1.0/security/incidents/404404", `{"status":"resolved"}`).expect(t, 404)
}

func TestAwaitingActionNeedsPrefer(t *testing.T) {
	t.Parallel()
	_, c := start(t, graphfake.Options{})
	const prefer = "include-unknown-enum-members"
	c.do("PATCH", "/v1.0/security/incidents/4213", `{"status":"awaitingAction"}`, "Prefer", prefer).expect(t, 200)
	if st := c.do("GET", "/v1.0/security/incidents/4213", nil).expect(t, 200).json(t)["status"]; st != "unknownFutureValue" {
		t.Errorf("status without Prefer %v, want unknownFutureValue", st)
	}
	if st := c.do("GET", "/v1.0/security/incidents/4213", nil, "Prefer", prefer).expect(t, 200).json(t)["status"]; st != "awaitingAction" {
		t.Errorf("status with Prefer %v, want awaitingAction", st)
	}
}

// The SDK's compression middleware gzips request bodies.
func TestGzipRequestBody(t *testing.T) {
	t.Parallel()
	s, c := start(t, graphfake.Options{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"classification":"falsePositive","determination":"notMalicious"}`))
	_ = zw.Close()
	c.do("PATCH", "/v1.0/security/incidents/4213", buf.Bytes(), "Content-Encoding", "gzip").expect(t, 200)
	if inc, _ := s.Incident("4213"); inc["classification"] != "falsePositive" {
		t.Errorf("classification %v", inc["classification"])
	}
	if body := s.RequestsFor("PATCH", "")[0].Body; !bytes.HasPrefix(body, []byte(`{"classification"`)) {
		t.Errorf("logged body %q, want it decompressed", body)
	}
	c.do("PATCH", "/v1.0/security/incidents/4213", `{"status":"resolved"}`, "Content-Encoding", "gzip").expect(t, 400)
	c.do("PATCH", "/v1.0/security/incidents/4213", `{"status":"resolved"}`, "Content-Encoding", "br").expect(t, 415)
}
