package poller_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graphsoar/graphsoar/internal/natstest"
	"github.com/graphsoar/graphsoar/internal/telemetry"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/poller"
)

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

var base = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	js    jetstream.JetStream
	topo  broker.Topology
	state jetstream.KeyValue
	coord jetstream.KeyValue
	fake  *graphfake.Server
	root  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	_, js := natstest.Start(t).Connect()
	e := &env{t: t, js: js, topo: broker.DefaultTopology()}
	ctx := context.Background()
	if err := broker.EnsureStream(ctx, js, e.topo, true); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.state, err = broker.EnsurePollBucket(ctx, js, e.topo, "graphsoar-poll"); err != nil {
		t.Fatal(err)
	}
	b, err := broker.EnsureBuckets(ctx, js, e.topo)
	if err != nil {
		t.Fatal(err)
	}
	e.coord = b.Coord
	e.fake = graphfake.New(graphfake.Options{PageSize: 50})
	hs := httptest.NewServer(e.fake)
	t.Cleanup(hs.Close)
	e.root = hs.URL
	return e
}

// seed adds incidents first.. of a tenant, created and last updated at
// base+i seconds (the emulator's ids are global: tenants need their own).
func (e *env) seed(tenantID string, n int) { e.seedFrom(tenantID, 5000, n) }

func (e *env) seedFrom(tenantID string, first, n int) {
	e.t.Helper()
	var inc map[string]any
	if err := json.Unmarshal(fixtures.Read("bare-incident.json"), &inc); err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		inc["id"] = fmt.Sprint(first + i)
		inc["tenantId"] = tenantID
		ts := base.Add(time.Duration(i) * time.Second).Format("2006-01-02T15:04:05.000Z")
		inc["createdDateTime"], inc["lastUpdateDateTime"] = ts, ts
		b, _ := json.Marshal(inc)
		if err := e.fake.Seed(b); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) poller(mod func(*poller.Options)) *poller.Poller {
	e.t.Helper()
	client, err := graph.New(graph.Config{Root: e.root, Default: &graph.Credential{Auth: graph.AuthNone},
		IncidentRate: graph.RateLimit{PerMinute: -1}, BackoffBase: 10 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	o := poller.Options{JS: e.js, Graph: client, Tenants: []string{tenant}, State: e.state, Coord: e.coord, ID: "p1",
		Since: base.Add(-time.Hour), PageSize: 50}
	if mod != nil {
		mod(&o)
	}
	p, err := poller.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// events returns the events in the stream, decoded.
func (e *env) events() []*incident.Event {
	e.t.Helper()
	ctx := context.Background()
	s, _ := e.js.Stream(ctx, e.topo.Stream)
	info, _ := s.Info(ctx)
	var out []*incident.Event
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		ev, err := incident.Decode(m.Data)
		if err != nil {
			e.t.Fatalf("published event %d does not decode: %v", seq, err)
		}
		if want := ev.Key(); m.Header.Get(nats.MsgIdHdr) != want {
			e.t.Errorf("Nats-Msg-Id %q, want %q", m.Header.Get(nats.MsgIdHdr), want)
		}
		out = append(out, ev)
	}
	return out
}

func TestFirstPassPublishesEveryIncidentAcrossPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 120)
	m := telemetry.NewMetrics()
	p := e.poller(func(o *poller.Options) { o.Metrics = m })
	published := func() float64 { return testutil.ToFloat64(m.PollPublished.WithLabelValues(tenant)) }
	if err := p.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if published() != 120 {
		t.Errorf("%v events published, want 120", published())
	}
	evs := e.events()
	if len(evs) != 120 {
		t.Fatalf("%d events, want 120", len(evs))
	}
	ids := map[string]bool{}
	for _, ev := range evs {
		ids[ev.IncidentID] = true
		if ev.Type != incident.Created || ev.Tenant != tenant || len(ev.Incident.Alerts) == 0 || ev.Form != incident.FormEnvelope {
			t.Fatalf("event %+v", ev)
		}
	}
	if len(ids) != 120 {
		t.Errorf("%d distinct incidents", len(ids))
	}
	if n := len(e.fake.RequestsFor("GET", "/v1.0/security/incidents")); n != 3 {
		t.Errorf("%d list requests, want 3 pages", n)
	}
	// The data is the incident as Graph returned it.
	if !strings.Contains(string(mustJSON(t, evs[0].Incident)), "incidentWebUrl") {
		t.Error("event data lost Graph's properties")
	}

	// A second pass publishes nothing.
	if err := p.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.events()); n != 120 || published() != 120 {
		// Published, not only stored: JetStream would drop a republished
		// event as a duplicate, and hide it here.
		t.Errorf("second pass: %d events, %v published, want still 120", n, published())
	}

	// A change gives exactly one updated event with the new state.
	if err := e.fake.Update("5007", func(inc map[string]any) { inc["status"] = "inProgress" }); err != nil {
		t.Fatal(err)
	}
	if err := p.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs = e.events()
	if len(evs) != 121 {
		t.Fatalf("%d events after one change, want 121", len(evs))
	}
	last := evs[120]
	if last.IncidentID != "5007" || last.Type != incident.Updated || last.Incident.Status != "inProgress" {
		t.Errorf("change event %s %s %s", last.IncidentID, last.Type, last.Incident.Status)
	}
}

func mustJSON(t *testing.T, inc *incident.Incident) []byte {
	b, err := inc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failingKV fails watermark writes while fail is set: a crash between the
// publishes and the watermark update.
type failingKV struct {
	jetstream.KeyValue
	mu   sync.Mutex
	fail bool
}

func (f *failingKV) failing(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail && (strings.HasPrefix(key, "wm.") || strings.HasPrefix(key, "v."))
}

func (f *failingKV) Create(ctx context.Context, key string, v []byte, o ...jetstream.KVCreateOpt) (uint64, error) {
	if f.failing(key) {
		return 0, errors.New("crash")
	}
	return f.KeyValue.Create(ctx, key, v, o...)
}

func (f *failingKV) Update(ctx context.Context, key string, v []byte, rev uint64) (uint64, error) {
	if f.failing(key) {
		return 0, errors.New("crash")
	}
	return f.KeyValue.Update(ctx, key, v, rev)
}

func (f *failingKV) Put(ctx context.Context, key string, v []byte) (uint64, error) {
	if f.failing(key) {
		return 0, errors.New("crash")
	}
	return f.KeyValue.Put(ctx, key, v)
}

func TestCrashBeforeTheWatermarkRepublishesOnlyDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 60)
	kv := &failingKV{KeyValue: e.state, fail: true}
	p := e.poller(func(o *poller.Options) { o.State = kv })
	if err := p.Pass(context.Background()); err == nil {
		t.Fatal("the pass should fail when its records cannot be written")
	}
	published := len(e.events())
	if published == 0 {
		t.Fatal("nothing was published before the crash")
	}
	kv.mu.Lock()
	kv.fail = false
	kv.mu.Unlock()
	// The restart publishes again what the crash left unrecorded: JetStream
	// drops those as duplicates (Nats-Msg-Id), and nothing is missing.
	if err := p.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := e.events()
	if len(evs) != 60 {
		t.Errorf("%d events after the restart (%d before), want 60: no duplicate stored, none missing", len(evs), published)
	}
}

func TestThrottledListDelaysThePass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 10)
	e.fake.FailNext(graphfake.Fault{Method: "GET", PathPrefix: "/v1.0/security/incidents", Status: 429, RetryAfter: "1", Times: 1})
	start := time.Now()
	if err := e.poller(nil).Pass(context.Background()); err != nil {
		t.Fatalf("a 429 must delay the pass, not fail it: %v", err)
	}
	if time.Since(start) < time.Second {
		t.Error("the pass did not wait for the Retry-After")
	}
	if n := len(e.events()); n != 10 {
		t.Errorf("%d events", n)
	}
}

func TestOneFailingTenantDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 5)
	e.seedFrom("other-tenant", 9000, 3) // another tenant's incidents: its token scopes it
	e.fake.FailNext(graphfake.Fault{Tenant: "other-tenant", Status: 403, Code: "accessDenied", Times: 10})
	p := e.poller(func(o *poller.Options) { o.Tenants = []string{"other-tenant", tenant} })
	err := p.Pass(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tenant other-tenant") {
		t.Fatalf("the failing tenant must be reported: %v", err)
	}
	if n := len(e.events()); n != 5 {
		t.Errorf("%d events; the healthy tenant must still be polled", n)
	}
}

func TestTwoProducersNeverPollOneTenantAtOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 5)
	a := e.poller(func(o *poller.Options) { o.ID = "a" })
	b := e.poller(func(o *poller.Options) { o.ID = "b" })
	if err := a.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.RequestsFor("GET", "/v1.0/security/incidents")); n != 1 {
		t.Errorf("%d list requests: the second producer polled a leased tenant", n)
	}
}

// A tenant without incidents keeps its starting point: a producer restarted
// later (its default start is now minus one interval) resumes from there, so
// changes made while it was down are not missed.
func TestQuietTenantKeepsItsStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	start := base.Add(-time.Hour)
	if err := e.poller(func(o *poller.Options) { o.Since = start }).Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.seed(tenant, 1) // changed while the producer is down
	if err := e.poller(func(o *poller.Options) { o.Since = time.Time{} }).Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.events()); n != 1 {
		t.Errorf("%d events after the restart, want 1", n)
	}
	reqs := e.fake.RequestsFor("GET", "/v1.0/security/incidents")
	q, _ := url.ParseQuery(reqs[len(reqs)-1].RawQuery)
	_, from, _ := strings.Cut(q.Get("$filter"), " ge ")
	if at, err := time.Parse(time.RFC3339, from); err != nil || at.After(start) {
		t.Errorf("the restarted pass starts at %q, want the first pass's start %v", from, start)
	}
}
