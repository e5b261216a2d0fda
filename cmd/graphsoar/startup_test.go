package main

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/graphsoar/graphsoar/internal/natstest"
)

// TestRunStartsBeforeNATS: a replica started while NATS is down does not
// exit: /healthz answers, /readyz says it is not ready, and once NATS is up
// it creates its topology and becomes ready.
func TestRunStartsBeforeNATS(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, root := seededEmulator(t, "redteam-created.json")
	metrics := freeAddr(t)
	stop, _, logs := runInBackground(t, map[string]string{"GRAPHSOAR_LOG_FORMAT": "text"},
		"run", "--rules", "../../rules", "--nats-url", "nats://127.0.0.1:"+strconv.Itoa(port), "--graph-url", root,
		"--defender-url", root, "--auth", "none", "--listen", metrics, "--data-dir", filepath.Join(t.TempDir(), "unused"))
	waitUntil(t, 20*time.Second, "healthz while NATS is down", func() bool {
		code, _ := httpGet("http://" + metrics + "/healthz")
		return code == 200
	})
	time.Sleep(time.Second) // a second of NATS being down: the replica must still be there
	if code, body := httpGet("http://" + metrics + "/readyz"); code == 200 {
		t.Fatalf("ready without NATS: %s", body)
	}
	natstest.Start(t, func(o *server.Options) { o.Port = port })
	waitUntil(t, 30*time.Second, "ready once NATS is up", func() bool {
		code, _ := httpGet("http://" + metrics + "/readyz")
		return code == 200
	})
	if err := stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, logs.String())
	}
}
