package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// runInBackground runs a command line until the returned cancel is called.
func runInBackground(t *testing.T, env map[string]string, args ...string) (cancel func() error, out, errb *syncBuffer) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	out, errb = &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, stdio{in: strings.NewReader(""), out: out, err: errb})
	}()
	var once bool
	var result error
	cancel = func() error {
		if once {
			return result
		}
		once = true
		stop()
		select {
		case result = <-done:
		case <-time.After(30 * time.Second):
			t.Error("the command did not stop")
		}
		return result
	}
	t.Cleanup(func() { _ = cancel() })
	return cancel, out, errb
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunWithEmbeddedNATS(t *testing.T) {
	t.Parallel()
	fake := graphfake.New(graphfake.Options{})
	for _, f := range []string{"redteam-created.json", "phishing-created.json"} {
		if err := fake.Seed(fixtures.Read(f)); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	natsAddr, metricsAddr := freeAddr(t), freeAddr(t)
	stop, _, logs := runInBackground(t, map[string]string{"GRAPHSOAR_LOG_FORMAT": "text"},
		"run", "--rules", "../../rules", "--graph-url", hs.URL, "--defender-url", hs.URL, "--auth", "none",
		"--data-dir", filepath.Join(t.TempDir(), "nats"), "--embedded-listen", natsAddr, "--listen", metricsAddr, "--partitions", "4")
	waitUntil(t, 30*time.Second, "ready", func() bool {
		code, _ := httpGet("http://" + metricsAddr + "/readyz")
		return code == 200
	})
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	for _, f := range []string{"redteam-created.json", "phishing-created.json"} {
		var ev struct {
			Data struct{ ID string } `json:"data"`
		}
		_ = json.Unmarshal(fixtures.Read(f), &ev)
		if _, err := js.Publish("security.incidents.3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71."+ev.Data.ID, fixtures.Read(f)); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "the writes", func() bool {
		inc, _ := fake.Incident("4212")
		return inc["status"] == "resolved" && len(fake.Comments("4213")) == 2
	})
	// The writes come before the ack: wait for the events to be settled.
	waitUntil(t, 10*time.Second, "both events acked", func() bool {
		_, body := httpGet("http://" + metricsAddr + "/metrics")
		return strings.Contains(body, `graphsoar_events_total{outcome="acked"} 2`)
	})
	code, body := httpGet("http://" + metricsAddr + "/metrics")
	for _, want := range []string{`graphsoar_events_total{outcome="acked"} 2`, `graphsoar_rule_matches_total{rule="close-red-team-tests"} 1`,
		`graphsoar_graph_request_seconds_bucket`, `graphsoar_partitions_owned 5`, `graphsoar_rules_loaded 8`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := httpGet("http://" + metricsAddr + "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if err := stop(); err != nil {
		t.Errorf("SIGTERM-style stop: %v", err)
	}
	if !strings.Contains(logs.String(), `msg="consumer drained"`) {
		t.Errorf("no drain in the log:\n%s", logs.String())
	}
}

func TestRunRefusesBadRules(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"a.yaml": "rules:\n  - {id: r, order: 1, when: 'incident.nope', stop: true}\n"})
	r := cli(t, nil, "", "run", "--rules", dir, "--auth", "none", "--data-dir", t.TempDir(), "--embedded-listen", freeAddr(t))
	if r.code != 1 || !strings.Contains(r.err, "a.yaml:2:39: type incident.Incident has no field nope") {
		t.Errorf("exit %d: %s", r.code, r.err)
	}
	if r := cli(t, nil, "", "run", "--auth", "kerberos", "--data-dir", t.TempDir()); r.code != 2 || !strings.Contains(r.err, `auth "kerberos"`) {
		t.Errorf("bad auth: exit %d %s", r.code, r.err)
	}
}
