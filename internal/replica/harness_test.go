package replica_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/natstest"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/worker"
)

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

// env is one test's world: an in-process NATS server with JetStream, the
// topology, the Graph emulator and the real Graph client.
type env struct {
	t       *testing.T
	nats    *natstest.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	topo    broker.Topology
	buckets broker.Buckets
	fake    *graphfake.Server
	root    string
}

type envOptions struct {
	partitions int
	maxDeliver int
	ackWait    time.Duration // default 2s
	seed       []string      // fixtures seeded in the emulator (default: the created versions)
	fake       graphfake.Options
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, nats: natstest.Start(t)}
	e.nc, e.js = e.connect()
	e.topo = broker.DefaultTopology()
	e.topo.Partitions = o.partitions
	if e.topo.Partitions == 0 {
		e.topo.Partitions = 4
	}
	e.topo.AckWait = 2 * time.Second
	if o.ackWait > 0 {
		e.topo.AckWait = o.ackWait
	}
	if o.maxDeliver > 0 {
		e.topo.MaxDeliver = o.maxDeliver
	}
	e.topo.LeaseTTL = 3 * time.Second
	ctx := context.Background()
	if err := broker.EnsureStream(ctx, e.js, e.topo, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureConsumers(ctx, e.js, e.topo, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureSideStreams(ctx, e.js, e.topo); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.buckets, err = broker.EnsureBuckets(ctx, e.js, e.topo); err != nil {
		t.Fatal(err)
	}
	if o.fake.Now == nil {
		// The emulator's clock runs from a day after the fixtures and before
		// versionBase, so that our own writes stamp the incidents older
		// than the test's events, as when Graph's writes come before the
		// analyst's next change.
		start, base := time.Now(), time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
		o.fake.Now = func() time.Time { return base.Add(time.Since(start)) }
	}
	e.fake = graphfake.New(o.fake)
	seed := o.seed
	if seed == nil {
		seed = []string{"ransomware-created.json", "redteam-created.json", "phishing-created.json"}
	}
	for _, f := range seed {
		if err := e.fake.Seed(fixtures.Read(f)); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(e.fake)
	t.Cleanup(hs.Close)
	e.root = hs.URL
	return e
}

func (e *env) connect() (*nats.Conn, jetstream.JetStream) {
	e.t.Helper()
	return e.nats.Connect()
}

func (e *env) graphClient(mod func(*graph.Config)) *graph.Client {
	e.t.Helper()
	cfg := graph.Config{Root: e.root, Default: &graph.Credential{Auth: graph.AuthNone},
		BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		IncidentRate: graph.RateLimit{PerMinute: 600000, Burst: 1000}, SecurityActionRate: graph.RateLimit{PerMinute: 600000, Burst: 1000},
		Defender: graph.Defender{URL: e.root, IndicatorRate: graph.RateLimit{PerMinute: 600000, Burst: 1000}}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := graph.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func loadRules(t *testing.T, dir string) *rules.RuleSet {
	t.Helper()
	rs, err := rules.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// rulesFrom writes one rule file and loads it.
func rulesFrom(t *testing.T, yaml string) *rules.RuleSet {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadRules(t, dir)
}

// running is a started replica.
type running struct {
	r       *replica.Replica
	nc      *nats.Conn
	metrics *telemetry.Metrics
	cancel  context.CancelFunc
	done    chan error
}

func (e *env) start(id string, rs worker.RuleSource, g worker.Graph, mod func(*replica.Options)) *running {
	e.t.Helper()
	nc, js := e.connect()
	// Each replica reaches the buckets through its own connection, as
	// separate processes do.
	buckets, err := broker.EnsureBuckets(context.Background(), js, e.topo)
	if err != nil {
		e.t.Fatal(err)
	}
	m := telemetry.NewMetrics()
	opts := replica.Options{
		JS: js, Topology: e.topo, Buckets: buckets, Rules: rs, Graph: g, Metrics: m, ID: id, Create: true,
		Log:       slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("worker", id),
		RetryBase: 100 * time.Millisecond, RetryMax: time.Second, RenewInterval: 300 * time.Millisecond,
		DrainTimeout: 5 * time.Second, EffectLease: time.Second, PullExpiry: 2 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	rep, err := replica.New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{r: rep, nc: nc, metrics: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- rep.Run(ctx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	e.waitFor(10*time.Second, "replica "+id+" ready", func() bool { return rep.Ready(context.Background()) == nil })
	return r
}

// stop cancels the worker and waits for its drain.
func (r *running) stop(t *testing.T) error {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // later stops see it too
		return err
	case <-time.After(20 * time.Second):
		t.Error("worker did not stop")
		return nil
	}
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// publish publishes an event on the contract subject with the dedup header.
func (e *env) publish(payload []byte, tenantID, incidentID, msgID string) {
	e.t.Helper()
	m := nats.NewMsg("security.incidents." + tenantID + "." + incidentID)
	m.Data = payload
	if msgID != "" {
		m.Header.Set(nats.MsgIdHdr, msgID)
	}
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) publishFixture(name string) {
	e.t.Helper()
	var ev struct {
		ID   string `json:"id"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	b := fixtures.Read(name)
	if err := json.Unmarshal(b, &ev); err != nil {
		e.t.Fatal(err)
	}
	e.publish(b, tenant, ev.Data.ID, ev.ID)
}

// waitFor polls cond until it holds or the deadline passes.
func (e *env) waitFor(d time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled reports whether every consumer has delivered and settled everything.
func (e *env) settled() bool {
	ctx := context.Background()
	for _, p := range e.topo.PartitionIDs() {
		c, err := e.js.Consumer(ctx, e.topo.Stream, e.topo.ConsumerName(p))
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil || info.NumPending > 0 || info.NumAckPending > 0 {
			return false
		}
	}
	return true
}

// streamMsgs reads every message of a side stream (DLQ, audit).
func (e *env) streamMsgs(stream string) []jetstream.RawStreamMsg {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		out = append(out, *m)
	}
	return out
}

func (e *env) audits() []worker.AuditEvent {
	var out []worker.AuditEvent
	for _, m := range e.streamMsgs(e.topo.AuditStream) {
		var a worker.AuditEvent
		if err := json.Unmarshal(m.Data, &a); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// comments returns the texts of an incident's comments in the emulator.
func (e *env) comments(id string) []string {
	var out []string
	for _, c := range e.fake.Comments(id) {
		out = append(out, fmt.Sprint(c["comment"]))
	}
	return out
}

// graphHook wraps the Graph client to observe or disturb calls.
type graphHook struct {
	worker.Graph
	mu        sync.Mutex
	onComment func(ctx context.Context, tenant, id, text string) error
	onBlock   func(ctx context.Context, tenant, hash string) error
}

func (h *graphHook) BlockFileHash(ctx context.Context, tenantID string, r graph.BlockRequest) (graph.Block, graph.Info, error) {
	a, info, err := h.Graph.BlockFileHash(ctx, tenantID, r)
	h.mu.Lock()
	fn := h.onBlock
	h.mu.Unlock()
	if fn != nil && err == nil {
		if herr := fn(ctx, tenantID, r.Hash); herr != nil {
			return a, info, herr
		}
	}
	return a, info, err
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func (h *graphHook) AddComment(ctx context.Context, tenantID, id, text string) ([]*incident.Comment, graph.Info, error) {
	list, info, err := h.Graph.AddComment(ctx, tenantID, id, text)
	h.mu.Lock()
	fn := h.onComment
	h.mu.Unlock()
	if fn != nil && err == nil {
		if herr := fn(ctx, tenantID, id, text); herr != nil {
			return list, info, herr
		}
	}
	return list, info, err
}

func mustFixture(name string) []byte { return fixtures.Read(name) }

// envelope wraps an incident (as the emulator holds it) in a CloudEvent.
func envelope(t *testing.T, id, change string, inc map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "test", "type": "com.microsoft.graph.security.incident." + change,
		"subject": inc["id"], "tenantid": tenant, "datacontenttype": "application/json", "data": inc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// versionEvent is a CloudEvent of incident id at a version (lastUpdateDateTime
// v, in 2030 so that it is newer than anything the emulator stamps).
func versionEvent(t *testing.T, id string, v int, change string) []byte {
	return versionEventFor(t, tenant, id, v, change)
}

// versionBase is the lastUpdateDateTime of version 0 of versionEvent: after
// the fixtures' versions (the events are newer than what the emulator holds),
// before the day the tests were written (never in the future).
var versionBase = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// versionEventFor is a CloudEvent of a tenant's incident at version v
// (lastUpdateDateTime versionBase + v seconds).
func versionEventFor(t *testing.T, tenantID, id string, v int, change string) []byte {
	t.Helper()
	var inc map[string]any
	if err := json.Unmarshal(fixtures.Read("bare-incident.json"), &inc); err != nil {
		t.Fatal(err)
	}
	inc["id"], inc["tenantId"] = id, tenantID
	inc["createdDateTime"] = versionBase.Format(time.RFC3339)
	inc["lastUpdateDateTime"] = versionBase.Add(time.Duration(v) * time.Second).Format(time.RFC3339)
	b, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": fmt.Sprintf("%s-v%d", id, v), "source": "test", "type": "com.microsoft.graph.security.incident." + change,
		"subject": id, "tenantid": tenantID, "datacontenttype": "application/json", "data": inc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedIncident adds a copy of the bare fixture under another id.
func (e *env) seedIncident(id string) { e.seedIncidentFor(tenant, id) }

// seedIncidentFor adds a copy of the bare fixture under another tenant and id.
func (e *env) seedIncidentFor(tenantID, id string) {
	e.t.Helper()
	var inc map[string]any
	if err := json.Unmarshal(fixtures.Read("bare-incident.json"), &inc); err != nil {
		e.t.Fatal(err)
	}
	inc["id"], inc["tenantId"] = id, tenantID
	b, _ := json.Marshal(inc)
	if err := e.fake.Seed(b); err != nil {
		e.t.Fatal(err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}
