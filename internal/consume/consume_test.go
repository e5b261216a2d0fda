package consume_test

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/natstest"
	"github.com/graphsoar/graphsoar/internal/telemetry"
)

// world is a NATS server with the incident stream of one partition.
type world struct {
	t    *testing.T
	srv  *natstest.Server
	js   jetstream.JetStream
	topo broker.Topology
	kv   jetstream.KeyValue
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, srv: natstest.Start(t)}
	_, w.js = w.srv.Connect()
	w.topo = broker.DefaultTopology()
	w.topo.Partitions, w.topo.AckWait, w.topo.LeaseTTL = 1, 2*time.Second, 3*time.Second
	ctx := context.Background()
	if err := broker.EnsureStream(ctx, w.js, w.topo, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureConsumers(ctx, w.js, w.topo, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureSideStreams(ctx, w.js, w.topo); err != nil {
		t.Fatal(err)
	}
	b, err := broker.EnsureBuckets(ctx, w.js, w.topo)
	if err != nil {
		t.Fatal(err)
	}
	w.kv = b.Coord
	return w
}

func (w *world) publish(tenant, incident string) {
	w.t.Helper()
	if _, err := w.js.Publish(context.Background(), "security.incidents."+tenant+"."+incident, []byte("{}")); err != nil {
		w.t.Fatal(err)
	}
}

// start runs a Consumer with handler until the test ends.
func (w *world) start(id string, create bool, handler consume.Handler) (*consume.Consumer, *telemetry.Metrics) {
	w.t.Helper()
	_, js := w.srv.Connect()
	kv, err := js.KeyValue(context.Background(), w.topo.CoordBucket)
	if err != nil {
		w.t.Fatal(err)
	}
	m := telemetry.NewMetrics()
	c, err := consume.New(consume.Options{JS: js, Topology: w.topo, Coord: kv, Handler: handler, ID: id, Create: create,
		Metrics: m, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		RenewInterval: 200 * time.Millisecond, PullExpiry: time.Second, DrainTimeout: 2 * time.Second})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	w.t.Cleanup(func() { cancel(); <-done })
	eventually(w.t, "consumer ready", func() bool { return c.Ready(context.Background()) == nil })
	return c, m
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is a handler that acks and records the incidents it saw.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) handle(_ context.Context, d *consume.Delivery) consume.Result {
	r.mu.Lock()
	r.seen = append(r.seen, d.Incident)
	r.mu.Unlock()
	return consume.Acked()
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// TestDeletedConsumerIsRecreated: a consumer deleted under a running
// replica is noticed and recreated, and the events published after it are
// handled; without permission to create, the replica says it is not ready
// until the consumer is back.
func TestDeletedConsumerIsRecreated(t *testing.T) {
	t.Parallel()
	t.Run("recreated", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		rec := &recorder{}
		_, m := w.start("r1", true, rec.handle)
		w.publish("t1", "1")
		eventually(t, "the first event", func() bool { return rec.count() == 1 })
		if err := w.js.DeleteConsumer(context.Background(), w.topo.Stream, w.topo.ConsumerName("all")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the consumption restarted", func() bool {
			return testutil.ToFloat64(m.ConsumeRestarts.WithLabelValues("all")) >= 1
		})
		w.publish("t1", "2")
		// A recreated consumer starts from the stream's first event again
		// (the worker skips the versions it handled): wait for the new one.
		eventually(t, "the event after the deletion", func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			return slices.Contains(rec.seen, "2")
		})
	})
	t.Run("not ready while missing", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		rec := &recorder{}
		c, _ := w.start("r1", false, rec.handle)
		if err := w.js.DeleteConsumer(context.Background(), w.topo.Stream, w.topo.ConsumerName("all")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "readiness false", func() bool { return c.Ready(context.Background()) != nil })
		time.Sleep(500 * time.Millisecond)
		if c.Ready(context.Background()) == nil {
			t.Fatal("ready again without its consumer")
		}
		if err := broker.EnsureConsumers(context.Background(), w.js, w.topo, true); err != nil {
			t.Fatal(err)
		}
		eventually(t, "readiness back", func() bool { return c.Ready(context.Background()) == nil })
		w.publish("t1", "3")
		eventually(t, "the event", func() bool { return rec.count() == 1 })
	})
}

// TestLostLeaseStopsThePartitionsWork: when another replica holds the
// partition's lease (this one's renewal fails by compare-and-set), the
// handling in progress is cancelled and released at once, and the replica
// stops consuming the partition.
func TestLostLeaseStopsThePartitionsWork(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	started, stopped := make(chan struct{}, 1), make(chan consume.Result, 1)
	c, _ := w.start("r1", true, func(ctx context.Context, d *consume.Delivery) consume.Result {
		started <- struct{}{}
		<-ctx.Done() // a Graph call that hangs
		r := consume.Decide("patch", ctx.Err())
		stopped <- r
		return r
	})
	w.publish("t1", "1")
	<-started
	// Another replica takes the lease (as after an expiry).
	if _, err := w.kv.Put(context.Background(), "lease.all", []byte("r2")); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-stopped:
		if r.Verdict != consume.Release {
			t.Errorf("the cancelled handling's verdict is %s, want release", r.Verdict)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the handling went on after the lease was lost")
	}
	eventually(t, "the partition given up", func() bool { return len(c.Partitions()) == 0 })
}

// TestNATSOutageFencesThenRecovers: with NATS down for longer than the
// lease TTL, the replica cannot renew: its handling is cancelled before the
// lease expires (nobody else may act on it then) and it is not ready; when
// NATS is back it claims its partitions again and consumes.
func TestNATSOutageFencesThenRecovers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	started := make(chan struct{}, 10)
	cancelled := make(chan time.Time, 10)
	rec := &recorder{}
	c, _ := w.start("r1", true, func(ctx context.Context, d *consume.Delivery) consume.Result {
		if d.Incident == "hang" {
			started <- struct{}{}
			<-ctx.Done()
			cancelled <- time.Now()
			return consume.Decide("patch", ctx.Err())
		}
		return rec.handle(ctx, d)
	})
	w.publish("t1", "hang")
	<-started
	down := time.Now()
	w.srv.Shutdown()
	select {
	case at := <-cancelled:
		if d := at.Sub(down); d > w.topo.LeaseTTL {
			t.Errorf("fenced %v after the outage began, later than the lease TTL %v", d, w.topo.LeaseTTL)
		}
	case <-time.After(2 * w.topo.LeaseTTL):
		t.Fatal("the handling was not fenced during the outage")
	}
	eventually(t, "not ready during the outage", func() bool { return c.Ready(context.Background()) != nil })
	w.srv.Start()
	eventually(t, "ready after the outage", func() bool { return c.Ready(context.Background()) == nil })
	_, js := w.srv.Connect()
	if _, err := js.Publish(context.Background(), "security.incidents.t1.after", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an event after the outage", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, s := range rec.seen {
			if s == "after" {
				return true
			}
		}
		return false
	})
}
