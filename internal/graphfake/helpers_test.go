package graphfake_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

const (
	tenantA = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71" // the fixtures' tenant
	tenantB = "0b7e4a51-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
	token   = "static-test-token" // opaque: names no tenant
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start runs a seeded emulator behind httptest and returns it with a client.
func start(t *testing.T, opts graphfake.Options) (*graphfake.Server, *client) {
	t.Helper()
	s := graphfake.New(opts)
	if err := s.SeedFS(fixtures.FS()); err != nil {
		t.Fatalf("SeedFS: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, &client{t: t, base: hs.URL, token: token, hc: hs.Client()}
}

// client sends requests to the emulator.
type client struct {
	t     *testing.T
	base  string
	token string // "" sends no Authorization header
	hc    *http.Client
}

// withToken returns a copy of c that sends tok.
func (c *client) withToken(tok string) *client {
	cp := *c
	cp.token = tok
	return &cp
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body may be nil, a string or []byte (sent raw) or a value (JSON).
func (c *client) do(method, path string, body any, headers ...string) *response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// json decodes the response body as an object.
func (r *response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return m
}

// expect fails the test unless the status is want.
func (r *response) expect(t *testing.T, want int) *response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
	return r
}

// errorCode checks Graph's error body shape and returns its code.
func (r *response) errorCode(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.body)
	}
	inner, _ := e["innerError"].(map[string]any)
	if inner["request-id"] == "" || inner["request-id"] != r.header.Get("request-id") {
		t.Errorf("innerError.request-id %v, header %q", inner["request-id"], r.header.Get("request-id"))
	}
	if _, err := time.Parse(time.RFC3339, fmt.Sprint(inner["date"])); err != nil {
		t.Errorf("innerError.date %v: %v", inner["date"], err)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Errorf("empty error message in %s", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

// jwt builds an unsigned JWT with the given claims.
func jwt(claims map[string]any) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	payload, _ := json.Marshal(claims)
	return header + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString([]byte("signature"))
}

// incidentCopies returns a JSON array of n copies of the bare fixture incident with ids
// base, base+1, ... created and updated one minute apart from t0.
func incidentCopies(t *testing.T, n, base int, tenant string, t0 time.Time) []byte {
	t.Helper()
	var proto map[string]any
	if err := json.Unmarshal(fixtures.Read("bare-incident.json"), &proto); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, n)
	for i := range out {
		raw, _ := json.Marshal(proto)
		var inc map[string]any
		_ = json.Unmarshal(raw, &inc)
		at := t0.Add(time.Duration(i) * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
		inc["id"] = fmt.Sprint(base + i)
		inc["tenantId"] = tenant
		inc["createdDateTime"] = at
		inc["lastUpdateDateTime"] = at
		out[i] = inc
	}
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// ids returns the ids of a list response's value.
func ids(t *testing.T, body map[string]any) []string {
	t.Helper()
	value, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %v", body)
	}
	out := make([]string, len(value))
	for i, v := range value {
		out[i] = fmt.Sprint(v.(map[string]any)["id"])
	}
	return out
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return tm
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
