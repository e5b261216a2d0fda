package deploy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	corev1 "k8s.io/api/core/v1"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/dlq"
	"github.com/graphsoar/graphsoar/internal/natstest"
)

// role is a connection as one NATS user, with the permission errors the
// server sent it.
type role struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

// TestNATSPermissions runs what each role of the deployment does against a
// NATS server with the users, passwords and permissions of nats.conf (one
// server, replicas 1, no TLS: TLS is TestNATSSecurity's), and what it must
// not do: the administrator creates the JetStream objects; the producer
// opens its buckets and publishes an event; the worker checks the objects,
// consumes and acks the event, reads it from the stream, writes audit and a
// dead letter and uses its buckets, and its live page hears dead letters on
// graphsoar.dlq.>. The worker cannot forge an event, delete a stream or
// subscribe to the events, the audit subjects or all of graphsoar.>; the
// producer cannot consume, write audit, dead letters or the worker's
// buckets and leases, or subscribe to the dead letters.
func TestNATSPermissions(t *testing.T) {
	c := loadCluster(t)
	_, _, opts, _ := natsServer(t, c)
	srv := natstest.Start(t, func(o *server.Options) { o.Accounts, o.Users = opts.Accounts, opts.Users })
	pw, ok := get[*corev1.Secret](c, "nats-users")
	if !ok {
		t.Fatal("no example Secret nats-users")
	}
	connect := func(user, key string) *role {
		r := &role{name: user, errs: make(chan error, 64)}
		var err error
		r.nc, err = nats.Connect(srv.URL(), nats.UserInfo(user, pw.StringData[key]),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { r.errs <- err }))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(r.nc.Close)
		r.js, _ = jetstream.New(r.nc)
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	must := func(r *role, what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %s: %v", r.name, what, err)
		}
	}
	cfg := workerConfig(t)
	topo := cfg.Topology()
	topo.Replicas = 1

	admin := connect("graphsoar-admin", "admin-password")
	must(admin, "EnsureStream", broker.EnsureStream(ctx, admin.js, topo, true))
	must(admin, "EnsureConsumers", broker.EnsureConsumers(ctx, admin.js, topo, true))
	must(admin, "EnsureSideStreams", broker.EnsureSideStreams(ctx, admin.js, topo))
	adminBuckets, err := broker.EnsureBuckets(ctx, admin.js, topo)
	must(admin, "EnsureBuckets", err)
	useBucket(t, admin, adminBuckets.Approvals, "approval-2", true) // graphsoar approvals list|approve|reject
	_, err = broker.EnsurePollBucket(ctx, admin.js, topo, cfg.Poll.Bucket)
	must(admin, "EnsurePollBucket", err)

	// The producer, as graphsoar poll with nats.create false.
	poller := connect("graphsoar-poller", "poller-password")
	must(poller, "EnsureStream (check)", broker.EnsureStream(ctx, poller.js, topo, false))
	state, err := broker.EnsurePollBucket(ctx, poller.js, topo, cfg.Poll.Bucket)
	must(poller, "EnsurePollBucket", err)
	coord, err := broker.EnsureCoordBucket(ctx, poller.js, topo)
	must(poller, "EnsureCoordBucket", err)
	useBucket(t, poller, state, "watermark.t1", false)
	useBucket(t, poller, coord, "poll."+broker.KeyToken("t1"), false)
	event := nats.NewMsg("security.incidents.t1.42")
	event.Data = []byte(`{"id":"42"}`)
	event.Header.Set(nats.MsgIdHdr, "t1:42:1")
	_, err = poller.js.PublishMsg(ctx, event)
	must(poller, "publish an event", err)

	// The worker, as graphsoar run with nats.create false.
	worker := connect("graphsoar-worker", "worker-password")
	must(worker, "EnsureStream (check)", broker.EnsureStream(ctx, worker.js, topo, false))
	must(worker, "EnsureConsumers (check)", broker.EnsureConsumers(ctx, worker.js, topo, false))
	buckets, err := broker.OpenBuckets(ctx, worker.js, topo)
	must(worker, "OpenBuckets", err)
	consumeOne(t, ctx, worker, topo)
	for _, subject := range []string{"graphsoar.audit.t1.42", "graphsoar.dlq.t1.42"} {
		_, err := worker.js.Publish(ctx, subject, []byte("{}"))
		must(worker, "publish "+subject, err)
	}
	// The live page (graphsoar run --listen): it follows the audit stream,
	// lists the dead letters and replays one.
	letter := nats.NewMsg("graphsoar.dlq.t1.42")
	letter.Data = []byte(`{"id":"42"}`)
	letter.Header.Set(consume.HeaderReason, "graph_permanent")
	letter.Header.Set(consume.HeaderSubject, "security.incidents.t1.42")
	_, err = worker.js.PublishMsg(ctx, letter)
	must(worker, "publish a dead letter", err)
	records, _, err := broker.Snapshot(ctx, worker.js, topo.AuditStream, time.Time{})
	must(worker, "read the audit stream", err)
	for _, err := range records {
		must(worker, "read the audit stream", err)
	}
	letters, err := dlq.List(ctx, worker.js, topo.DLQStream, dlq.Filter{Reason: "graph_permanent"})
	must(worker, "list the dead letters", err)
	for _, r := range dlq.Replay(ctx, worker.js, topo.DLQStream, letters, false) {
		must(worker, "replay a dead letter", r.Err)
	}
	useBucket(t, worker, buckets.State, "incident.t1.42", false)
	useBucket(t, worker, buckets.Effects, "comment.x", false)
	useBucket(t, worker, buckets.Coord, "lease.0", true)        // the worker lists its leases
	useBucket(t, worker, buckets.Approvals, "approval-1", true) // and sweeps the held actions
	decision := nats.NewMsg("security.incidents.t1.42")
	decision.Header.Set(approval.Header, "approval-1")
	_, err = worker.js.PublishMsg(ctx, decision)
	must(worker, "publish a decision", err)

	for _, s := range []string{"$KV.graphsoar-poll.watermark.t1", "$JS.API.STREAM.DELETE.INCIDENTS",
		"$JS.API.STREAM.PURGE.KV_graphsoar-effects", "$JS.API.CONSUMER.CREATE.INCIDENTS.evil", "$JS.API.STREAM.UPDATE.INCIDENTS"} {
		denied(t, worker, "Publish to", s, func() error { return worker.nc.Publish(s, nil) })
	}
	for _, s := range []string{"graphsoar.audit.t1.1", "graphsoar.dlq.t1.1", "$KV.graphsoar-state.incident.t1.42",
		"$KV.graphsoar-effects.comment.x", "$KV.graphsoar-coord.lease.0", "$KV.graphsoar-approvals.x", "$JS.API.CONSUMER.MSG.NEXT.INCIDENTS.graphsoar-0",
		"$JS.API.CONSUMER.CREATE.KV_graphsoar-poll.x", "$JS.API.CONSUMER.CREATE.GRAPHSOAR_AUDIT.x", "$JS.API.STREAM.MSG.DELETE.GRAPHSOAR_DLQ",
		"$JS.ACK.INCIDENTS.graphsoar-0.1.1.1.1.1.1", "$JS.API.STREAM.DELETE.INCIDENTS", "$JS.API.DIRECT.GET.KV_graphsoar-coord.$KV.graphsoar-coord.lease.0"} {
		denied(t, poller, "Publish to", s, func() error { return poller.nc.Publish(s, nil) })
	}
	for _, r := range []*role{worker, poller} {
		for _, s := range []string{"security.incidents.>", "graphsoar.>", "$KV.>"} {
			denied(t, r, "Subscription to", s, func() error { _, err := r.nc.SubscribeSync(s); return err })
		}
	}
	denied(t, poller, "Subscription to", "graphsoar.dlq.>", func() error { _, err := poller.nc.SubscribeSync("graphsoar.dlq.>"); return err })
	denied(t, worker, "Subscription to", "graphsoar.audit.>", func() error { _, err := worker.nc.SubscribeSync("graphsoar.audit.>"); return err })
	heardDeadLetter(t, ctx, worker)
}

// heardDeadLetter: the worker's live page hears a dead letter stored by
// another replica on graphsoar.dlq.> (a core subscription).
func heardDeadLetter(t *testing.T, ctx context.Context, worker *role) {
	t.Helper()
	sub, err := worker.nc.SubscribeSync("graphsoar.dlq.>")
	if err != nil {
		t.Fatalf("%s: subscribe graphsoar.dlq.>: %v", worker.name, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := worker.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := worker.js.Publish(ctx, "graphsoar.dlq.t1.43", []byte(`{"id":"43"}`)); err != nil {
		t.Fatalf("%s: publish a dead letter: %v", worker.name, err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("%s: the subscription to graphsoar.dlq.> heard nothing: %v", worker.name, err)
	}
	if m.Subject != "graphsoar.dlq.t1.43" {
		t.Errorf("%s: heard %s", worker.name, m.Subject)
	}
}

// useBucket does what graphsoar does with a key: create, read, update,
// put, delete, and with list, list the bucket's keys.
func useBucket(t *testing.T, r *role, kv jetstream.KeyValue, key string, list bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rev, err := kv.Create(ctx, key, []byte("1"))
	if err == nil {
		_, err = kv.Get(ctx, key)
	}
	if err == nil {
		rev, err = kv.Update(ctx, key, []byte("2"), rev)
	}
	if err == nil {
		_, err = kv.Put(ctx, key, []byte("3"))
	}
	if err == nil && list {
		_, err = kv.Keys(ctx)
	}
	if err == nil {
		err = kv.Delete(ctx, key)
	}
	if err != nil {
		t.Errorf("%s: bucket %s key %s: %v (rev %d)", r.name, kv.Bucket(), key, err, rev)
	}
}

// consumeOne fetches the event from its partition consumer, reads it from
// the stream by sequence, marks it in progress and acks it.
func consumeOne(t *testing.T, ctx context.Context, r *role, topo broker.Topology) {
	t.Helper()
	stream, err := r.js.Stream(ctx, topo.Stream)
	if err != nil {
		t.Fatalf("%s: stream: %v", r.name, err)
	}
	for _, p := range topo.PartitionIDs() {
		cons, err := r.js.Consumer(ctx, topo.Stream, topo.ConsumerName(p))
		if err != nil {
			t.Fatalf("%s: consumer %s: %v", r.name, topo.ConsumerName(p), err)
		}
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatalf("%s: fetch %s: %v", r.name, topo.ConsumerName(p), err)
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err == nil {
				err = m.InProgress()
			}
			if err == nil {
				_, err = stream.GetMsg(ctx, meta.Sequence.Stream)
			}
			if err == nil {
				err = m.DoubleAck(ctx)
			}
			if err != nil {
				t.Fatalf("%s: handle the event: %v", r.name, err)
			}
			return
		}
	}
	t.Fatalf("%s: no partition consumer delivered the event", r.name)
}

// denied does something r may not do and waits for the server's
// permissions violation.
func denied(t *testing.T, r *role, kind, subject string, do func() error) {
	t.Helper()
	if err := do(); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	want := "permissions violation for " + strings.ToLower(kind) + ` "` + strings.ToLower(subject) + `"`
	deadline := time.After(2 * time.Second)
	for {
		select {
		case err := <-r.errs:
			if strings.Contains(strings.ToLower(err.Error()), want) {
				return
			}
		case <-deadline:
			t.Errorf("%s may %s %s", r.name, strings.ToLower(kind), subject)
			return
		}
	}
}
