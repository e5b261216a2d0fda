package graphfake_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

const (
	indicatorsPath = "/api/indicators"
	appA           = "11111111-2222-3333-4444-555555555555"
	appB           = "99999999-8888-7777-6666-555555555555"
	sha256Hash     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha1Hash       = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	md5Hash        = "d41d8cd98f00b204e9800998ecf8427e"
)

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// indicator is a valid submit body with the required properties and extra ones.
func indicator(typ, value string, extra ...any) map[string]any {
	b := map[string]any{
		"indicatorValue": value,
		"indicatorType":  typ,
		"action":         "BlockAndRemediate",
		"title":          "graphsoar: block-ransomware",
		"description":    "Ransomware seen on incident 4211",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

// asApp is c with a token of tenant and app, named name.
func asApp(c *client, tenant, app, name string) *client {
	return c.withToken(jwt(map[string]any{"tid": tenant, "appid": app, "app_displayname": name}))
}

// indicatorServer starts an emulator on a frozen clock at t0.
func indicatorServer(t *testing.T, opts graphfake.Options) (*graphfake.Server, *client, *fakeClock) {
	t.Helper()
	clock := newClock(t0)
	opts.Now = clock.Now
	s, c := start(t, opts)
	return s, c, clock
}

func TestSubmitIndicator(t *testing.T) {
	t.Parallel()
	full := []any{
		"application", "graphsoar", "expirationTime", "2026-12-20T13:00:00+01:00",
		"severity", "High", "recommendedActions", "Isolate the device",
		"rbacGroupNames", []any{"Tier 1", "Servers"}, "educateUrl", "https://contoso.example/why",
		"generateAlert", true,
	}
	tests := []struct {
		name   string
		body   map[string]any
		caller func(*client) *client
		tenant string         // the caller's tid
		want   map[string]any // beyond the body's required properties
	}{
		{"FileSha256 full", indicator("FileSha256", sha256Hash, full...),
			func(c *client) *client { return asApp(c, tenantA, appA, "graphsoar-worker") }, tenantA,
			map[string]any{
				"application": "graphsoar", "expirationTime": "2026-12-20T12:00:00Z", "severity": "High",
				"recommendedActions": "Isolate the device", "rbacGroupNames": []any{"Tier 1", "Servers"},
				"educateUrl": "https://contoso.example/why", "generateAlert": true,
				"createdBy": appA, "lastUpdatedBy": appA, "source": "graphsoar-worker",
			}},
		{"FileSha1 minimal opaque token", indicator("FileSha1", sha1Hash),
			func(c *client) *client { return c }, "",
			map[string]any{"createdBy": "graphsoar-emulator", "lastUpdatedBy": "graphsoar-emulator", "source": "graphsoar-emulator"}},
		{"FileMd5 upper case audit", indicator("FileMd5", strings.ToUpper(md5Hash), "action", "Audit", "generateAlert", true),
			func(c *client) *client { return asApp(c, tenantA, appA, "graphsoar-worker") }, tenantA,
			map[string]any{"action": "Audit", "generateAlert": true, "createdBy": appA, "lastUpdatedBy": appA, "source": "graphsoar-worker"}},
		{"CertificateThumbprint", indicator("CertificateThumbprint", sha1Hash, "action", "Allowed"),
			func(c *client) *client {
				return c.withToken(jwt(map[string]any{"tid": tenantB, "upn": "soc@contoso.com"}))
			}, tenantB,
			map[string]any{"action": "Allowed", "createdBy": "soc@contoso.com", "lastUpdatedBy": "soc@contoso.com", "source": "soc@contoso.com"}},
		{"IpAddress", indicator("IpAddress", "203.0.113.7", "action", "Block"),
			func(c *client) *client { return c }, "",
			map[string]any{"action": "Block", "createdBy": "graphsoar-emulator", "lastUpdatedBy": "graphsoar-emulator", "source": "graphsoar-emulator"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c, _ := indicatorServer(t, graphfake.Options{})
			cl := tc.caller(c)
			got := cl.do("POST", indicatorsPath, tc.body).expect(t, 200).json(t)

			want := map[string]any{
				"@odata.context": c.base + "/api/$metadata#Indicators/$entity",
				"id":             "1",
				"application":    nil, "expirationTime": nil, "severity": nil, "recommendedActions": nil,
				"educateUrl": nil, "rbacGroupNames": []any{}, "generateAlert": false,
				"creationTimeDateTimeUtc": "2026-11-20T12:00:00.0000000Z",
				"lastUpdateTime":          "2026-11-20T12:00:00.0000000Z",
				"createdBySource":         "PublicApi",
				"sourceType":              "AadApp",
			}
			for _, k := range []string{"indicatorValue", "indicatorType", "action", "title", "description"} {
				want[k] = tc.body[k]
			}
			for k, v := range tc.want {
				want[k] = v
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("POST answered\n%v\nwant\n%v", got, want)
			}
			if again := cl.do("GET", indicatorsPath+"/1", nil).expect(t, 200).json(t); !reflect.DeepEqual(again, want) {
				t.Errorf("GET by id answered\n%v\nwant\n%v", again, want)
			}
			stored := s.Indicators(tc.tenant)
			delete(want, "@odata.context")
			if len(stored) != 1 || !reflect.DeepEqual(plain(t, stored[0]), want) {
				t.Errorf("Indicators() = %v, want [%v]", stored, want)
			}
		})
	}
}

// plain round-trips v through encoding/json so it compares with decoded responses.
func plain(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return (&response{body: raw}).json(t)
}

func TestSubmitIndicatorUpdatesSameValue(t *testing.T) {
	t.Parallel()
	s, c, clock := indicatorServer(t, graphfake.Options{})
	first := asApp(c, tenantA, appA, "worker-a").do("POST", indicatorsPath,
		indicator("FileSha256", sha256Hash, "severity", "High", "application", "graphsoar")).expect(t, 200).json(t)

	clock.Advance(time.Minute)
	second := asApp(c, tenantA, appB, "worker-b").do("POST", indicatorsPath, indicator("FileSha256", strings.ToUpper(sha256Hash),
		"action", "AlertAndBlock", "title", "graphsoar: updated", "generateAlert", true)).expect(t, 200).json(t)

	if second["id"] != first["id"] {
		t.Fatalf("update got id %v, want the first id %v", second["id"], first["id"])
	}
	for k, want := range map[string]any{
		"action": "AlertAndBlock", "title": "graphsoar: updated", "generateAlert": true,
		"indicatorValue": strings.ToUpper(sha256Hash), "lastUpdatedBy": appB,
		"lastUpdateTime": "2026-11-20T12:01:00.0000000Z",
		"severity":       nil, "application": nil, // replaced, not merged
		"createdBy": appA, "source": "worker-a", "creationTimeDateTimeUtc": first["creationTimeDateTimeUtc"],
	} {
		if !reflect.DeepEqual(second[k], want) {
			t.Errorf("%s = %v, want %v", k, second[k], want)
		}
	}
	if n := len(s.Indicators(tenantA)); n != 1 {
		t.Errorf("%d indicators stored, want 1", n)
	}

	// Under a frozen clock lastUpdateTime still moves forward.
	third := asApp(c, tenantA, appB, "worker-b").do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200).json(t)
	if !mustTime(t, third["lastUpdateTime"]).After(mustTime(t, second["lastUpdateTime"])) {
		t.Errorf("lastUpdateTime %v not after %v", third["lastUpdateTime"], second["lastUpdateTime"])
	}

	// Another type or another tenant is another indicator.
	other := asApp(c, tenantA, appA, "worker-a").do("POST", indicatorsPath, indicator("FileSha1", sha1Hash)).expect(t, 200).json(t)
	inB := asApp(c, tenantB, appA, "worker-a").do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200).json(t)
	if other["id"] != "2" || inB["id"] != "3" {
		t.Errorf("new ids %v and %v, want 2 and 3", other["id"], inB["id"])
	}
}

func TestIndicatorsRequireToken(t *testing.T) {
	t.Parallel()
	s, c, _ := indicatorServer(t, graphfake.Options{})
	anon := c.withToken("")
	for _, req := range []struct{ method, path string }{
		{"POST", indicatorsPath}, {"GET", indicatorsPath}, {"GET", indicatorsPath + "/1"}, {"DELETE", indicatorsPath + "/1"},
	} {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			r := anon.do(req.method, req.path, indicator("FileSha256", sha256Hash)).expect(t, 401)
			if code := r.errorCode(t); code != "InvalidAuthenticationToken" {
				t.Errorf("code %q", code)
			}
		})
	}
	if n := len(s.Indicators("")); n != 0 {
		t.Fatalf("an unauthenticated POST stored %d indicators", n)
	}
	s.SetOpen(true)
	anon.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200)
}

func TestIndicatorTenantIsolation(t *testing.T) {
	t.Parallel()
	s, c, _ := indicatorServer(t, graphfake.Options{})
	asA, asB := asApp(c, tenantA, appA, "a"), asApp(c, tenantB, appA, "b")
	id := asA.do("POST", indicatorsPath, indicator("FileSha256", sha256Hash)).expect(t, 200).json(t)["id"].(string)

	if got := ids(t, asB.do("GET", indicatorsPath, nil).expect(t, 200).json(t)); len(got) != 0 {
		t.Errorf("tenant B lists %v", got)
	}
	if code := asB.do("GET", indicatorsPath+"/"+id, nil).expect(t, 404).errorCode(t); code != "itemNotFound" {
		t.Errorf("code %q", code)
	}
	asB.do("DELETE", indicatorsPath+"/"+id, nil).expect(t, 404)
	c.do("GET", indicatorsPath+"/"+id, nil).expect(t, 404) // no tenant is not a wildcard
	asA.do("GET", indicatorsPath+"/"+id, nil).expect(t, 200)
	if len(s.Indicators(tenantA)) != 1 || s.Indicators(tenantB) != nil {
		t.Errorf("A has %v, B has %v", s.Indicators(tenantA), s.Indicators(tenantB))
	}
	if got, ok := s.Indicator(tenantA, id); !ok || got["indicatorValue"] != sha256Hash {
		t.Errorf("Indicator(A, %s) = %v, %v", id, got, ok)
	}
	if _, ok := s.Indicator(tenantB, id); ok {
		t.Errorf("Indicator(B, %s) found tenant A's indicator", id)
	}
}

func TestDeleteIndicator(t *testing.T) {
	t.Parallel()
	s, c, _ := indicatorServer(t, graphfake.Options{})
	asA := asApp(c, tenantA, appA, "a")
	asA.do("POST", indicatorsPath, indicator("FileMd5", md5Hash)).expect(t, 200)
	asA.do("POST", indicatorsPath, indicator("FileSha1", sha1Hash)).expect(t, 200)

	r := asA.do("DELETE", indicatorsPath+"/1", nil).expect(t, 204)
	if len(r.body) != 0 {
		t.Errorf("204 with body %q", r.body)
	}
	asA.do("GET", indicatorsPath+"/1", nil).expect(t, 404)
	asA.do("DELETE", indicatorsPath+"/1", nil).expect(t, 404)
	if got := ids(t, asA.do("GET", indicatorsPath, nil).expect(t, 200).json(t)); !reflect.DeepEqual(got, []string{"2"}) {
		t.Errorf("list after delete %v, want [2]", got)
	}
	// Submitting the deleted value again creates a new indicator.
	if id := asA.do("POST", indicatorsPath, indicator("FileMd5", md5Hash)).expect(t, 200).json(t)["id"]; id != "3" {
		t.Errorf("resubmitted id %v, want 3", id)
	}
	if n := len(s.Indicators(tenantA)); n != 2 {
		t.Errorf("%d stored, want 2", n)
	}
}
