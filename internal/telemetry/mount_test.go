package telemetry_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"

	"github.com/graphsoar/graphsoar/internal/telemetry"
)

// TestMount: a handler mounted at / gets every path but the server's own,
// which it cannot shadow.
func TestMount(t *testing.T) {
	t.Parallel()
	srv := telemetry.NewServer(telemetry.NewMetrics(), slog.New(slog.DiscardHandler))
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/"); code != http.StatusNotFound {
		t.Errorf("/ before mounting: %d, want 404", code)
	}
	srv.Mount(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("page " + r.URL.Path))
	}))
	for path, want := range map[string]int{"/": 418, "/api/state": 418, "/healthz": 200, "/readyz": 200, "/metrics": 200} {
		if code, body := get(t, base+path); code != want {
			t.Errorf("%s: %d %q, want %d", path, code, body, want)
		}
	}
}
