// Package broker is graphsoar's NATS plumbing: an embedded JetStream server
// for single-machine use, connections, and the streams, consumers and
// key-value buckets the worker and the producer rely on.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configures an embedded NATS server.
type EmbeddedOptions struct {
	// Dir stores JetStream data; it is created when missing.
	Dir string
	// Host and Port to listen on; Port -1 picks a free port. Default 127.0.0.1:-1.
	Host string
	Port int
}

// Embedded is a NATS server with JetStream running in this process.
type Embedded struct {
	srv *server.Server
}

// StartEmbedded starts a NATS server with JetStream storing in o.Dir and
// waits until it accepts connections.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.Dir == "" {
		return nil, errors.New("embedded nats: no data directory")
	}
	if err := os.MkdirAll(o.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = -1
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "graphsoar-embedded",
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.Dir,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: 8 << 20, // whole incidents with many alerts
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("embedded nats: not ready after 30s")
	}
	return &Embedded{srv: srv}, nil
}

// URL is the client URL of the server.
func (e *Embedded) URL() string { return e.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// LogAttrs describes the server for logs.
func (e *Embedded) LogAttrs() []slog.Attr {
	return []slog.Attr{slog.String("url", e.URL()), slog.String("store", e.srv.StoreDir())}
}
