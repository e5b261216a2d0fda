// Package natstest starts NATS servers with JetStream for tests: in
// process, on 127.0.0.1, storing in the test's temporary directory, and
// restartable on the same port and store (a NATS restart under a running
// client). It is imported only by tests.
package natstest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is an in-process NATS server with JetStream. It is shut down when
// the test ends.
type Server struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// Option adjusts the server options before the start (accounts, TLS, ...).
type Option func(*server.Options)

// Start starts a server on a free port of 127.0.0.1 with JetStream storing
// in t.TempDir().
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{t: t, opts: server.Options{
		Host: "127.0.0.1", Port: freePort(t), JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	}}
	for _, o := range opts {
		o(&s.opts)
	}
	s.start()
	t.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	o := s.opts
	srv, err := server.NewServer(&o)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(20 * time.Second) {
		srv.Shutdown()
		s.t.Fatal("nats server not ready after 20s")
	}
	s.srv = srv
}

// URL is the client URL (the same across restarts).
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Options returns the server's options (for a test that adds accounts).
func (s *Server) Options() server.Options { return s.opts }

// Shutdown stops the server and waits for it; it may be called again.
func (s *Server) Shutdown() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts it again on the same port with the
// same store: streams, consumers and buckets survive, clients reconnect.
func (s *Server) Restart() {
	s.t.Helper()
	s.Shutdown()
	s.start()
}

// Start starts a stopped server again (after Shutdown).
func (s *Server) Start() {
	s.t.Helper()
	if s.srv == nil {
		s.start()
	}
}

// Connect opens a client connection that reconnects forever, closed when
// the test ends.
func (s *Server) Connect() (*nats.Conn, jetstream.JetStream) {
	s.t.Helper()
	nc, err := nats.Connect(s.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return nc, js
}

// freePort reserves a free port of 127.0.0.1 and releases it for the server
// (a fixed port, unlike -1, survives a restart).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
