package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// TestRunLivePageAccess: run serves the live page on a non-loopback address
// only with a token (and then only to requests that carry it); without one
// it serves the metrics and health endpoints alone and says why.
func TestRunLivePageAccess(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(graphfake.New(graphfake.Options{}))
	defer hs.Close()
	for _, c := range []struct {
		name  string
		token string
	}{{"no token", ""}, {"a token", "run-test-token-81c2"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, port, _ := net.SplitHostPort(freeAddr(t))
			env := map[string]string{"GRAPHSOAR_LOG_FORMAT": "text", "GRAPHSOAR_UI_TOKEN": c.token}
			stop, _, logs := runInBackground(t, env,
				"run", "--rules", "../../rules", "--graph-url", hs.URL, "--defender-url", hs.URL, "--auth", "none",
				"--data-dir", filepath.Join(t.TempDir(), "nats"), "--embedded-listen", freeAddr(t),
				"--listen", "0.0.0.0:"+port, "--partitions", "2")
			base := "http://127.0.0.1:" + port
			waitUntil(t, 30*time.Second, "ready", func() bool {
				code, _ := httpGet(base + "/readyz")
				return code == 200
			})
			// The page is mounted once the replica is built, before it is ready.
			if code, _ := httpGet(base + "/healthz"); code != 200 {
				t.Errorf("/healthz %d", code)
			}
			code, body := httpGet(base + "/")
			if c.token == "" {
				if code != http.StatusNotFound {
					t.Errorf("the page without a token on 0.0.0.0: %d, want 404 (not served)", code)
				}
				if !strings.Contains(logs.String(), "live page not served: --listen is not a loopback address and no --ui-token") {
					t.Errorf("no warning in the log:\n%s", logs.String())
				}
			} else {
				if code != http.StatusUnauthorized {
					t.Errorf("the page without its token: %d %s, want 401", code, body)
				}
				req, _ := http.NewRequest(http.MethodGet, base+"/api/state", nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("the API with its token: %d", resp.StatusCode)
				}
			}
			if err := stop(); err != nil {
				t.Errorf("stop: %v", err)
			}
			if c.token != "" && strings.Contains(logs.String(), c.token) {
				t.Error("the token is in the log")
			}
		})
	}
}
