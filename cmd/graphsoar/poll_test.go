package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

const fixtureTenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

func natsServer(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
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
