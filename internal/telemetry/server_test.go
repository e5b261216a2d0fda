package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/telemetry"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	t.Parallel()
	m := telemetry.NewMetrics()
	m.Events.WithLabelValues("acked").Add(3)
	srv := telemetry.NewServer(m, slog.New(slog.DiscardHandler))
	ready := errors.New("not yet")
	srv.AddCheck("worker", func(context.Context) error { return ready })
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "worker: not yet") {
		t.Errorf("/readyz %d %q", code, body)
	}
	ready = nil
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, `graphsoar_events_total{outcome="acked"} 3`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics %d", code)
	}
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l, err := telemetry.NewLogger(&b, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), `"msg":"shown"`) {
		t.Errorf("log %q", b.String())
	}
	if _, err := telemetry.NewLogger(&b, "xml", "info"); err == nil {
		t.Error("bad format accepted")
	}
	if _, err := telemetry.NewLogger(&b, "text", "loud"); err == nil {
		t.Error("bad level accepted")
	}
}
