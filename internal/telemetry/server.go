package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check reports whether a part of the process is ready; a nil error is ready.
type Check func(ctx context.Context) error

// Server serves /metrics, /healthz (the process is alive) and /readyz (every
// registered check passes), and whatever is mounted at / (the live page).
type Server struct {
	metrics *Metrics
	log     *slog.Logger
	mu      sync.Mutex
	checks  map[string]Check
	mux     *http.ServeMux
	hs      *http.Server
	ln      net.Listener
	done    chan error
}

// NewServer builds the server; Start listens.
//
// The contexts of its requests end when Shutdown begins, so that long-lived
// responses (server-sent events) end and Shutdown does not wait for them.
func NewServer(m *Metrics, log *slog.Logger) *Server {
	s := &Server{metrics: m, log: log, checks: map[string]Check{}, mux: http.NewServeMux()}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.ready)
	base, stop := context.WithCancel(context.Background())
	s.hs = &http.Server{Handler: s.mux, ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return base }}
	s.hs.RegisterOnShutdown(stop)
	return s
}

// Mount serves h at / : every path but /metrics, /healthz and /readyz, which
// stay as they are (and need no credential whatever h asks for). It may be
// called once, before or after Start.
func (s *Server) Mount(h http.Handler) { s.mux.Handle("/", h) }

// AddCheck registers a readiness check.
func (s *Server) AddCheck(name string, c Check) {
	s.mu.Lock()
	s.checks[name] = c
	s.mu.Unlock()
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	s.mu.Lock()
	checks := make(map[string]Check, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	s.mu.Unlock()
	failed := false
	var body []byte
	for name, c := range checks {
		if err := c(ctx); err != nil {
			failed = true
			body = fmt.Appendf(body, "%s: %v\n", name, err)
		}
	}
	if failed {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Start listens on addr and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() { s.done <- s.hs.Serve(ln) }()
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops serving, waiting for open requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.hs.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
