package incident_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/incident"
)

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

func TestDecodeFixtures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file       string
		form       incident.Form
		typ        incident.ChangeType
		id, incID  string
		status     string
		alerts     int
		lastUpdate string
	}{
		{"ransomware-created.json", incident.FormEnvelope, incident.Created, "b6f7c0de-0001", "4211", "active", 2, "2026-11-20T08:05:40.511Z"},
		{"ransomware-updated.json", incident.FormEnvelope, incident.Updated, "b6f7c0de-0004", "4211", "inProgress", 2, "2026-11-20T09:30:00Z"},
		{"redteam-created.json", incident.FormEnvelope, incident.Created, "b6f7c0de-0002", "4212", "active", 1, "2026-11-20T09:12:30Z"},
		{"phishing-created.json", incident.FormEnvelope, incident.Created, "b6f7c0de-0003", "4213", "active", 1, "2026-11-20T10:03:00Z"},
		{"bare-incident.json", incident.FormBare, incident.Updated, tenant + ":4213:2026-11-20T10:03:00Z", "4213", "active", 1, "2026-11-20T10:03:00Z"},
		{"thin-reference.json", incident.FormThin, incident.Updated, "b6f7c0de-0005", "4213", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			ev, err := incident.Decode(fixtures.Read(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if ev.Form != tt.form || ev.Type != tt.typ || ev.ID != tt.id || ev.IncidentID != tt.incID || ev.Tenant != tenant {
				t.Errorf("got form %s type %s id %s incident %s tenant %s", ev.Form, ev.Type, ev.ID, ev.IncidentID, ev.Tenant)
			}
			if ev.Thin() != (tt.form == incident.FormThin) {
				t.Errorf("Thin() = %v", ev.Thin())
			}
			inc := ev.Incident
			if inc.Status != tt.status || len(inc.Alerts) != tt.alerts {
				t.Errorf("status %q alerts %d", inc.Status, len(inc.Alerts))
			}
			if tt.lastUpdate != "" {
				want, _ := time.Parse(time.RFC3339, tt.lastUpdate)
				if !inc.LastUpdateDateTime.Equal(want) {
					t.Errorf("lastUpdateDateTime %v, want %v", inc.LastUpdateDateTime, want)
				}
			}
		})
	}
}

func TestDecodeRansomwareModel(t *testing.T) {
	t.Parallel()
	ev, err := incident.Decode(fixtures.Read("ransomware-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	inc := ev.Incident
	if inc.Severity != "high" || inc.Classification != "unknown" || inc.AssignedTo != "" || inc.CustomTags == nil {
		t.Errorf("incident fields: %+v", inc)
	}
	a := inc.Alerts[0]
	if a.ServiceSource != "microsoftDefenderForEndpoint" || a.Category != "Ransomware" || a.MitreTechniques[0] != "T1486" {
		t.Errorf("alert fields: %+v", a)
	}
	dev := a.Evidence[0]
	if dev.Type != "deviceEvidence" || dev.DeviceDNSName != "ws-fin-014.contoso.com" || dev.RbacGroupID != 17 || dev.OSBuild != 22631 {
		t.Errorf("device evidence: %+v", dev)
	}
	file := a.Evidence[1]
	if file.Type != "fileEvidence" || file.FileDetails.FileSize != 482304 || file.FileDetails.Md5 != "" {
		t.Errorf("file evidence: %+v", file.FileDetails)
	}
	// A property outside the typed union is still readable.
	if got := dev.Get("healthStatus"); got != "active" {
		t.Errorf(`Get("healthStatus") = %v`, got)
	}
	if got := dev.Get("loggedOnUsers"); got == nil {
		t.Error(`Get("loggedOnUsers") = nil`)
	}
	if got := dev.Get("noSuchProperty"); got != nil {
		t.Errorf(`Get("noSuchProperty") = %v`, got)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	ev, err := incident.Decode(fixtures.Read("ransomware-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	inc := ev.Incident
	// The same device is evidence in both alerts: it counts once.
	if d := inc.Devices(); len(d) != 1 || d[0].DeviceDNSName != "ws-fin-014.contoso.com" {
		t.Errorf("Devices() = %v", d)
	}
	if u := inc.Users(); len(u) != 1 || u[0].UserPrincipalName != "ada@contoso.com" {
		t.Errorf("Users() = %v", u)
	}
	if f := inc.Files(); len(f) != 1 || f[0].FileName != "invoice_viewer.exe" {
		t.Errorf("Files() = %v", f)
	}
	if h := inc.FileHashes(); len(h) != 1 || h[0] != "9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7" {
		t.Errorf("FileHashes() = %v", h)
	}
	if n := len(inc.EvidenceOf("deviceEvidence")); n != 2 {
		t.Errorf("EvidenceOf(deviceEvidence) = %d items, want 2 (not deduplicated)", n)
	}
	if n := len(inc.EvidenceOf("#microsoft.graph.security.fileEvidence")); n != 1 {
		t.Errorf("EvidenceOf(full type) = %d items, want 1", n)
	}

	ph, err := incident.Decode(fixtures.Read("phishing-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	if u := ph.Incident.URLs(); len(u) != 1 || u[0] != "http://login-contoso.example.net/auth" {
		t.Errorf("URLs() = %v", u)
	}
	if ip := ph.Incident.IPs(); len(ip) != 1 || ip[0] != "198.51.100.23" {
		t.Errorf("IPs() = %v", ip)
	}
}

func TestFileHashesFallBackToSHA1(t *testing.T) {
	t.Parallel()
	inc, err := incident.DecodeIncident([]byte(`{"id":"1","alerts":[{"id":"a","evidence":[
		{"@odata.type":"#microsoft.graph.security.fileEvidence","fileDetails":{"sha1":"3395A8A0D4D1EC6C33D7C9E8A51E6B0F3A9F1C2D","sha256":null}},
		{"@odata.type":"#microsoft.graph.security.fileEvidence","fileDetails":{"sha1":"3395a8a0d4d1ec6c33d7c9e8a51e6b0f3a9f1c2d"}},
		{"@odata.type":"#microsoft.graph.security.fileEvidence","fileDetails":{"sha1":null,"sha256":null,"md5":"0123"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if h := inc.FileHashes(); len(h) != 1 || h[0] != "3395a8a0d4d1ec6c33d7c9e8a51e6b0f3a9f1c2d" {
		t.Errorf("FileHashes() = %v, want the lower-cased sha1 once", h)
	}
}

func TestDecodeUnknownTypesAndEnums(t *testing.T) {
	t.Parallel()
	ev, err := incident.Decode([]byte(`{"specversion":"1.0","id":"e1","type":"com.microsoft.graph.security.incident.updated",
		"tenantid":"t1","data":{"id":"9","status":"someFutureStatus","severity":"critical","createdDateTime":"2026-01-01T00:00:00Z",
		"lastUpdateDateTime":"2026-01-02T00:00:00Z","futureProperty":{"x":1},
		"alerts":[{"id":"a","serviceSource":"someNewProduct","evidence":[{"@odata.type":"#microsoft.graph.security.quantumEvidence","qubits":5}]}]}}`))
	if err != nil {
		t.Fatalf("unknown values must decode: %v", err)
	}
	e := ev.Incident.Alerts[0].Evidence[0]
	if ev.Incident.Status != "someFutureStatus" || e.Type != "quantumEvidence" || e.Get("qubits") != float64(5) {
		t.Errorf("got status %q, evidence %q, qubits %v", ev.Incident.Status, e.Type, e.Get("qubits"))
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	env := func(extra string) string {
		return `{"specversion":"1.0","id":"e1","type":"com.microsoft.graph.security.incident.created","tenantid":"t1"` + extra + `}`
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "event: empty"},
		{"array", `[1]`, "event: not a JSON object"},
		{"syntax", `{"id": `, "event: id: invalid JSON at byte 6"},
		{"bare without id", `{"status":"active"}`, "event: id: missing"},
		{"spec version", strings.Replace(env(`,"data":{"id":"1"}`), `"1.0"`, `"0.3"`, 1), `event e1: specversion: "0.3" is not supported`},
		{"no id", `{"specversion":"1.0","type":"com.microsoft.graph.security.incident.created","data":{"id":"1"}}`, "event: id: missing"},
		{"no type", `{"specversion":"1.0","id":"e1","data":{"id":"1"}}`, "event e1: type: missing"},
		{"bad type", strings.Replace(env(`,"data":{"id":"1"}`), "incident.created", "incident.deleted", 1), `event e1: type: "com.microsoft.graph.security.incident.deleted" is not`},
		{"no data", env(``), "event e1: data: missing"},
		{"no incident id", env(`,"data":{"status":"active"}`), "event e1: data.id: missing"},
		{"subject mismatch", env(`,"subject":"2","data":{"id":"1"}`), `event e1: subject: "2" does not match data.id "1"`},
		{"tenant mismatch", env(`,"data":{"id":"1","tenantId":"t2"}`), `event e1: tenantid: "t1" does not match data.tenantId "t2"`},
		{"bad time", env(`,"time":"yesterday","data":{"id":"1"}`), `event e1: time: "yesterday" is not an RFC 3339 time`},
		{"content type", env(`,"datacontenttype":"text/xml","data":{"id":"1"}`), `event e1: datacontenttype: "text/xml" is not application/json`},
		{"wrong type in data", env(`,"data":{"id":"1","severity":5}`), "event e1: data.severity: cannot use JSON number as string"},
		{"wrong type in evidence", env(`,"data":{"id":"1","alerts":[{"evidence":[{"osBuild":"x"}]}]}`), "event e1: data.alerts[0].evidence[0].osBuild: cannot use JSON string as int64"},
		{"bad evidence time", env(`,"data":{"id":"1","alerts":[{"evidence":[{"createdDateTime":"nope"}]}]}`), `event e1: data.alerts[0].evidence[0].createdDateTime: "nope" is not an RFC 3339 time`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := incident.Decode([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			var de *incident.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q\nwant prefix %q", err, tt.want)
			}
		})
	}
}

func TestEventComplete(t *testing.T) {
	t.Parallel()
	ev, err := incident.Decode(fixtures.Read("thin-reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Key() != "" {
		t.Errorf("a thin event has no version key, got %q", ev.Key())
	}
	full, err := incident.Decode(fixtures.Read("phishing-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Complete(full.Incident); err != nil {
		t.Fatal(err)
	}
	if ev.Thin() || ev.Incident.Severity != "medium" || ev.Key() != tenant+":4213:2026-11-20T10:03:00Z" {
		t.Errorf("completed event: thin %v key %q", ev.Thin(), ev.Key())
	}
	other, _ := incident.Decode(fixtures.Read("redteam-created.json"))
	ev2, _ := incident.Decode(fixtures.Read("thin-reference.json"))
	if err := ev2.Complete(other.Incident); err == nil {
		t.Error("completing with another incident must fail")
	}
}

func TestIncidentJSONRoundTrip(t *testing.T) {
	t.Parallel()
	ev, err := incident.Decode(fixtures.Read("ransomware-created.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ev.Incident)
	if err != nil {
		t.Fatal(err)
	}
	back, err := incident.DecodeIncident(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Severity != "high" || len(back.Devices()) != 1 || len(back.FileHashes()) != 1 || !back.LastUpdateDateTime.Equal(ev.Incident.LastUpdateDateTime) {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range fixtures.Names() {
		f.Add(fixtures.Read(name))
	}
	f.Add([]byte(`{"specversion":"1.0","id":"x","type":"com.microsoft.graph.security.incident.created","data":{"id":"1"}}`))
	f.Add([]byte(`{"id":"1","alerts":[null,{"evidence":[null]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := incident.Decode(b)
		if err != nil {
			var de *incident.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			return
		}
		if ev.IncidentID == "" || ev.Incident == nil || ev.ID == "" {
			t.Fatalf("decoded event without ids: %+v", ev)
		}
		if ev.Type != incident.Created && ev.Type != incident.Updated {
			t.Fatalf("type %q", ev.Type)
		}
		// The helpers must not panic on any decoded incident.
		inc := ev.Incident
		_ = inc.Devices()
		_ = inc.Users()
		_ = inc.FileHashes()
		for _, a := range inc.Alerts {
			if a == nil {
				continue
			}
			for _, e := range a.Evidence {
				_ = e.Get("x")
			}
		}
	})
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	ev, err := incident.Decode(fixtures.Read("ransomware-updated.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.Incident.Snapshot([]string{"severity", "customTags", "nope"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"customTags":["analyst-reviewed"],"id":"4211","severity":"high"}` {
		t.Errorf("snapshot %s", b)
	}
	back, err := incident.DecodeIncident(b)
	if err != nil || back.Severity != "high" || back.Status != "" {
		t.Errorf("decoded %+v %v", back, err)
	}
	whole, err := ev.Incident.Snapshot(nil, true)
	if err != nil {
		t.Fatal(err)
	}
	all, err := incident.DecodeIncident(whole)
	if err != nil || len(all.Devices()) != 1 || all.AssignedTo != "tier2@contoso.com" {
		t.Errorf("whole snapshot lost data: %v", err)
	}
}
