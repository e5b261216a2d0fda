package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/natstest"
)

const fixtureTenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

func natsServer(t *testing.T) string {
	t.Helper()
	return natstest.Start(t).URL()
}

func seededEmulator(t *testing.T, names ...string) (*graphfake.Server, string) {
	t.Helper()
	fake := graphfake.New(graphfake.Options{})
	for _, n := range names {
		if err := fake.Seed(fixtures.Read(n)); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
	return fake, hs.URL
}

func streamCount(t *testing.T, url string) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), "INCIDENTS")
	if err != nil {
		return 0
	}
	info, _ := s.Info(context.Background())
	return info.State.Msgs
}

// TestPollOnceThreeTimesWithChanges: poll --once, run three times in a row
// with a change made in Graph before each, publishes exactly the changes:
// each run releases its leases, so the next one polls at once.
func TestPollOnceThreeTimesWithChanges(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	fake, root := seededEmulator(t, "ransomware-created.json", "redteam-created.json")
	args := []string{"poll", "--once", "--nats-url", url, "--graph-url", root, "--auth", "none",
		"--tenant", fixtureTenant, "--since", "2026-11-01T00:00:00Z"}
	var inc map[string]any
	if err := json.Unmarshal(fixtures.Read("ransomware-created.json"), &inc); err != nil {
		t.Fatal(err)
	}
	data := inc["data"].(map[string]any)
	want := uint64(0)
	for run := range 3 {
		// A change in Graph: a newer version of incident 4211 (the first
		// run sees both incidents).
		data["lastUpdateDateTime"] = time.Date(2026, 11, 20, 12, run, 0, 0, time.UTC).Format(time.RFC3339)
		data["severity"] = []string{"medium", "high", "low"}[run]
		b, _ := json.Marshal(data)
		if err := fake.Seed(b); err != nil {
			t.Fatal(err)
		}
		want += 1
		if run == 0 {
			want++ // 4212 too
		}
		// Each run is another process: another producer id.
		r := cli(t, map[string]string{"GRAPHSOAR_LOG_FORMAT": "text"}, "", append(args, "--id", fmt.Sprintf("once-%d", run))...)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d: %s", run+1, r.code, r.err)
		}
		if got := streamCount(t, url); got != want {
			t.Fatalf("after run %d: %d events in the stream, want %d (each run publishes exactly the changes)\n%s", run+1, got, want, r.err)
		}
		if strings.Contains(r.err, "tenant skipped") {
			t.Errorf("run %d skipped the tenant: the previous run's lease was not released\n%s", run+1, r.err)
		}
	}
}

func TestPollOnce(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	_, root := seededEmulator(t, "ransomware-created.json", "redteam-created.json", "phishing-created.json")
	args := []string{"poll", "--once", "--nats-url", url, "--graph-url", root, "--auth", "none",
		"--tenant", fixtureTenant, "--since", "2026-11-01T00:00:00Z"}
	if r := cli(t, nil, "", args...); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	if n := streamCount(t, url); n != 3 {
		t.Errorf("%d events published, want 3", n)
	}
	if r := cli(t, nil, "", args...); r.code != 0 || streamCount(t, url) != 3 {
		t.Errorf("second pass: exit %d, %d events", r.code, streamCount(t, url))
	}
	if r := cli(t, nil, "", "poll", "--once", "--nats-url", url, "--graph-url", root, "--auth", "none"); r.code != 2 || !strings.Contains(r.err, "no tenants") {
		t.Errorf("no tenant: exit %d %s", r.code, r.err)
	}
}

// run --poll without tenants stops at once (it used to run a worker without
// its producer, ready, and say so only at shutdown).
func TestRunPollWithoutTenantsExits(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	_, root := seededEmulator(t, "ransomware-created.json")
	r := cli(t, nil, "", "run", "--poll", "--rules", "../../rules", "--nats-url", url, "--graph-url", root, "--auth", "none")
	if r.code != 2 || !strings.Contains(r.err, "no tenants to poll") {
		t.Errorf("exit %d: %s", r.code, r.err)
	}
}

// graphsoar run --poll: the producer feeds the worker in one process; our own
// writes come back as update events, which must end in no further write.
func TestRunWithPollerSettles(t *testing.T) {
	t.Parallel()
	url := natsServer(t)
	fake, root := seededEmulator(t, "ransomware-created.json", "redteam-created.json", "phishing-created.json")
	stop, _, logs := runInBackground(t, map[string]string{"GRAPHSOAR_LOG_FORMAT": "text", "GRAPHSOAR_TENANT": fixtureTenant},
		"run", "--poll", "--rules", "../../rules", "--nats-url", url, "--graph-url", root, "--defender-url", root, "--auth", "none",
		"--config", writeFiles(t, map[string]string{"c.yaml": "poll:\n  interval: 1s\n  since: 2026-11-01T00:00:00Z\n"})+"/c.yaml")
	waitUntil(t, 30*time.Second, "the writes", func() bool {
		inc, _ := fake.Incident("4212")
		return inc["status"] == "resolved" && len(fake.Indicators(fixtureTenant)) == 1 && len(fake.Comments("4213")) == 2
	})
	writes := func() int { return len(fake.RequestsFor("PATCH", "")) + len(fake.RequestsFor("POST", "")) }
	// Several poll passes later, the update events of our own writes have
	// been handled and nothing more is written.
	settled := writes()
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if writes() != settled {
			settled = writes()
			deadline = time.Now().Add(4 * time.Second)
		}
	}
	if n := streamCount(t, url); n < 6 {
		t.Errorf("%d events: the updates of our own writes were not produced", n)
	}
	// One PATCH per incident; comments: 4211 one, 4212 one, 4213 two; one
	// Defender indicator.
	if n := len(fake.RequestsFor("PATCH", "")); n != 3 {
		t.Errorf("%d PATCH requests, want one per incident", n)
	}
	if c, a := len(fake.RequestsFor("POST", "/v1.0/")), len(fake.RequestsFor("POST", "/api/indicators")); c != 4 || a != 1 {
		t.Errorf("%d comments and %d indicators, want 4 and 1", c, a)
	}
	if err := stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !strings.Contains(logs.String(), "component=poll") {
		t.Error("the producer did not run in the worker process")
	}
}
