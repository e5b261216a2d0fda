package ui_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/ui"
)

const token = "correct-horse-battery-staple"

// mounted serves the page on graphsoar's telemetry server, as run and demo
// do, and returns its root URL and the server's log.
func mounted(t *testing.T, e *env) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := telemetry.NewServer(telemetry.NewMetrics(), slog.New(slog.NewTextHandler(logs, nil)))
	srv.Mount(e.page.Handler())
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + srv.Addr(), logs
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, method, url string, header map[string]string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{token: token, noRun: true})
	base, serverLogs := mounted(t, e)
	bearer := func(s string) map[string]string { return map[string]string{"Authorization": "Bearer " + s} }

	for _, c := range []struct {
		name   string
		path   string
		header map[string]string
		want   int
	}{
		{"health needs no token", "/healthz", nil, 200},
		{"readiness needs no token", "/readyz", nil, 200},
		{"metrics need no token", "/metrics", nil, 200},
		{"the page without the token", "/", nil, 401},
		{"the API without the token", "/api/state", nil, 401},
		{"the stream without the token", "/api/stream", nil, 401},
		{"a wrong token", "/api/state", bearer("correct-horse-battery-stapler"), 401},
		{"a token prefix", "/api/state", bearer("correct-horse"), 401},
		{"another scheme", "/api/state", map[string]string{"Authorization": "Basic " + token}, 401},
		{"the page with the token", "/", bearer(token), 200},
		{"the API with the token", "/api/state", bearer(token), 200},
		{"the script with the token", "/app.js", bearer(token), 200},
		{"a token in the API's address is not taken", "/api/state?token=" + token, nil, 401},
		{"a wrong token in the page's address", "/?token=nope", nil, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			if resp := send(t, http.MethodGet, base+c.path, c.header); resp.StatusCode != c.want {
				t.Errorf("GET %s: %d, want %d", c.path, resp.StatusCode, c.want)
			}
		})
	}

	t.Run("the token in the page's address becomes a cookie", func(t *testing.T) {
		resp := send(t, http.MethodGet, base+"/?token="+token+"&view=x", nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?view=x" {
			t.Fatalf("%d to %q, want 303 to /?view=x (without the token)", resp.StatusCode, resp.Header.Get("Location"))
		}
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies %v", cookies)
		}
		c := cookies[0]
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
			t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
		}
		if strings.Contains(c.Value, token) || c.Value == "" {
			t.Errorf("the cookie holds the token or nothing: %q", c.Value)
		}
		for _, path := range []string{"/", "/api/state", "/app.css"} {
			if resp := send(t, http.MethodGet, base+path, nil, &http.Cookie{Name: c.Name, Value: c.Value}); resp.StatusCode != 200 {
				t.Errorf("GET %s with the cookie: %d", path, resp.StatusCode)
			}
		}
		forged := &http.Cookie{Name: c.Name, Value: strings.Repeat("0", len(c.Value))}
		if resp := send(t, http.MethodGet, base+"/api/state", nil, forged); resp.StatusCode != 401 {
			t.Errorf("a forged cookie: %d, want 401", resp.StatusCode)
		}
	})

	if strings.Contains(e.logs.String()+serverLogs.String(), token) {
		t.Errorf("the token is in the logs:\n%s\n%s", e.logs, serverLogs)
	}
}

// TestNoTokenAnswersLoopbackOnly: without a token the page answers requests
// addressed to a loopback name only, so another site cannot reach it
// through a name of its own pointed at 127.0.0.1.
func TestNoTokenAnswersLoopbackOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noRun: true})
	for host, want := range map[string]int{
		"":                      200, // the URL's own 127.0.0.1:PORT
		"localhost:9090":        200,
		"[::1]:9090":            200,
		"evil.example:9090":     403,
		"127.0.0.1.nip.io:9090": 403,
		"10.0.0.5:9090":         403,
	} {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/api/state", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:9090": true, "localhost:9090": true, "[::1]:9090": true, "127.0.0.2:80": true,
		":9090": false, "0.0.0.0:9090": false, "[::]:9090": false, "10.1.2.3:9090": false, "example.com:9090": false, "nonsense": false,
	} {
		if got := ui.LoopbackOnly(addr); got != want {
			t.Errorf("LoopbackOnly(%q) = %v, want %v", addr, got, want)
		}
	}
}
