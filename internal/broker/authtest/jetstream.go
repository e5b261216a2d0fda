package authtest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// UseJetStream proves that an authenticated connection may use JetStream:
// it creates (or updates) stream T on t.> and publishes data to subject,
// which T must acknowledge. It fails t otherwise.
func UseJetStream(t testing.TB, nc *nats.Conn, subject string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(ctx, subject, data)
	if err != nil || ack.Stream != "T" {
		t.Fatalf("publish: %v %+v", err, ack)
	}
}
