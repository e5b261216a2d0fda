package replica_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/telemetry"
)

func TestThrottleStormEndsWithEverythingApplied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxDeliver: 20})
	// Graph throttles the tenant for its first 8 requests, with Retry-After: 1.
	e.fake.FailNext(graphfake.Fault{Status: 429, RetryAfter: "1", Times: 8})
	e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	for _, f := range []string{"ransomware-created.json", "redteam-created.json", "phishing-created.json"} {
		e.publishFixture(f)
	}
	e.waitFor(60*time.Second, "every action applied", func() bool {
		inc, _ := e.fake.Incident("4212")
		return e.settled() && len(e.fake.Indicators(tenant)) == 1 && len(e.comments("4213")) == 2 && inc["status"] == "resolved"
	})
	if e.fake.PendingFaults() != 0 {
		t.Fatal("the storm did not happen")
	}
	reqs := e.fake.Requests()
	throttled := 0
	for i, r := range reqs {
		if r.Status != 429 {
			continue
		}
		throttled++
		// Requests already on the wire when Graph answered 429 may still
		// arrive; any later one must wait for the Retry-After.
		for _, later := range reqs[i+1:] {
			gap := later.Time.Sub(r.Time)
			if gap > 100*time.Millisecond && gap < time.Second {
				t.Errorf("%s %s sent %v after a 429 with Retry-After: 1", later.Method, later.Path, gap)
			}
		}
	}
	if throttled != 8 {
		t.Errorf("%d throttled requests, want 8", throttled)
	}
}

func TestTwoWorkersKeepPerIncidentOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{partitions: 4, maxDeliver: 20, fake: graphfake.Options{Latency: 5 * time.Millisecond}})
	// Partitions go by tenant: four tenants spread the work over replicas.
	const incidents, versions = 12, 6
	ids := make([]string, incidents)
	tenantOf := func(i int) string { return fmt.Sprintf("tenant-%d", i%4) }
	for i := range ids {
		ids[i] = fmt.Sprint(7000 + i)
		e.seedIncidentFor(tenantOf(i), ids[i])
	}
	rs := rulesFrom(t, `
rules:
  - {id: note, order: 1, when: "true", actions: [{comment: "v={{ incident.lastUpdateDateTime }}"}]}
`)
	opts := func(o *replica.Options) { o.ActionBudget = -1; o.Concurrency = 8 }
	w1 := e.start("w1", rules.Static{RS: rs}, e.graphClient(nil), opts)
	// Transient failures force redeliveries in the middle of the sequence.
	e.fake.FailNext(graphfake.Fault{Method: "POST", Status: 503, RetryAfter: "0", Times: 6})
	for v := range versions {
		for i, id := range ids {
			e.publish(versionEventFor(t, tenantOf(i), id, v, "updated"), tenantOf(i), id, "")
		}
		if v == 2 {
			// A second replica joins mid-stream: partitions move to it.
			w2 := e.start("w2", rules.Static{RS: rs}, e.graphClient(nil), opts)
			e.waitFor(10*time.Second, "the partitions shared", func() bool {
				return len(w2.r.Consumer.Partitions()) >= 2 && len(w1.r.Consumer.Partitions())+len(w2.r.Consumer.Partitions()) == len(e.topo.PartitionIDs())
			})
		}
	}
	e.waitFor(60*time.Second, "every version commented", func() bool {
		for _, id := range ids {
			if len(e.comments(id)) < versions {
				return false
			}
		}
		return e.settled()
	})
	for _, id := range ids {
		got := e.comments(id)
		var want []string
		for v := range versions {
			want = append(want, "v="+versionBase.Add(time.Duration(v)*time.Second).Format(time.RFC3339))
		}
		if !slices.Equal(got, want) {
			t.Errorf("incident %s: comments out of order or missing:\n got %q\nwant %q", id, got, want)
		}
	}
	byWorker := map[string]int{}
	for _, a := range e.audits() {
		if a.Result == "applied" {
			byWorker[a.Worker]++
		}
	}
	if byWorker["w1"] == 0 || byWorker["w2"] == 0 {
		t.Errorf("the two workers did not share the work: %v", byWorker)
	}
}

func TestShutdownDrainsInFlightEvents(t *testing.T) {
	t.Parallel()
	// An ack wait far longer than the test: an event left in the stopped
	// replica's hands could not be pulled again before it ends.
	e := newEnv(t, envOptions{fake: graphfake.Options{Latency: 300 * time.Millisecond}, ackWait: time.Minute})
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	for _, f := range []string{"ransomware-created.json", "redteam-created.json", "phishing-created.json"} {
		e.publishFixture(f)
	}
	// Later versions of the red-team incident queue behind its first event
	// (one incident, one event at a time): at the stop they are in the
	// replica's hands, not yet started.
	var ev map[string]any
	if err := json.Unmarshal(mustFixture("redteam-created.json"), &ev); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 4; v++ {
		ev["id"] = fmt.Sprintf("redteam-v%d", v)
		ev["data"].(map[string]any)["lastUpdateDateTime"] = versionBase.Add(time.Duration(v) * time.Second).Format(time.RFC3339)
		b, _ := json.Marshal(ev)
		e.publish(b, tenant, "4212", fmt.Sprintf("redteam-v%d", v))
	}
	e.waitFor(10*time.Second, "events in flight", func() bool { return e.fake.InFlight() > 0 })
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("drain took %v", time.Since(start))
	}
	// What was in flight finished and was acknowledged; what the replica had
	// fetched ahead was released, so nothing is left in its hands: every
	// event still unacknowledged goes to the next pull at once, not after
	// the ack wait. (JetStream counts a released event as ack-pending until
	// it is pulled again; the check pulls without waiting, well within the
	// minute's ack wait of the deliveries before the stop.)
	ctx := context.Background()
	released := 0
	for _, p := range e.topo.PartitionIDs() {
		c, err := e.js.Consumer(ctx, e.topo.Stream, e.topo.ConsumerName(p))
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		released += info.NumAckPending
		if info.NumAckPending == 0 {
			continue
		}
		batch, err := c.FetchNoWait(info.NumAckPending)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			_ = m.Nak()
		}
		if n != info.NumAckPending {
			t.Errorf("partition %s: %d events unacknowledged, %d released for the next owner: the others are left in the stopped replica's hands",
				p, info.NumAckPending, n)
		}
	}
	if n := testutil.ToFloat64(r.metrics.Events.WithLabelValues("acked")); n == 0 {
		t.Error("no event finished during the drain")
	}
	if released == 0 {
		t.Error("no event was waiting at the stop: the test did not exercise the release")
	}
}

func TestShutdownDrainIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fake: graphfake.Options{Latency: time.Minute}})
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil),
		func(o *replica.Options) { o.DrainTimeout = 300 * time.Millisecond })
	e.publishFixture("redteam-created.json")
	e.waitFor(10*time.Second, "an event in flight", func() bool { return e.fake.InFlight() > 0 })
	start := time.Now()
	err := r.stop(t)
	if err == nil || !strings.Contains(err.Error(), "still in flight") {
		t.Errorf("drain past its bound: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("drain took %v with a 300ms bound", d)
	}
}

func TestThinEventIsCompletedFromGraph(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	e.publishFixture("thin-reference.json")
	e.waitFor(10*time.Second, "settled", func() bool { return e.settled() && len(e.comments("4213")) == 1 })
	inc, _ := e.fake.Incident("4213")
	if !strings.Contains(toJSON(inc["customTags"]), "vip") {
		t.Errorf("tags %v", inc["customTags"])
	}
	if len(e.fake.RequestsFor("GET", "/v1.0/security/incidents/4213")) == 0 {
		t.Error("the thin event was not completed with a GET")
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), func(o *replica.Options) { o.DryRun = true })
	e.publishFixture("ransomware-created.json")
	e.waitFor(10*time.Second, "settled", func() bool {
		return e.settled() && testutil.ToFloat64(r.metrics.Events.WithLabelValues("dry_run")) == 1
	})
	if n := len(e.fake.RequestsFor("PATCH", "")) + len(e.fake.RequestsFor("POST", "")); n != 0 {
		t.Errorf("%d writes in dry-run", n)
	}
	e.waitFor(5*time.Second, "dry-run audit", func() bool {
		all := e.audits()
		for _, a := range all {
			if !a.DryRun || (a.Result != "dry_run" && a.Result != "unchanged") {
				t.Fatalf("audit %+v", a)
			}
		}
		return len(all) == 8
	})
}

func TestActionBudgetStopsARunawayRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.seedIncident("8000")
	// The comment changes with every version: a loop that desired state
	// cannot stop.
	rs := rulesFrom(t, `
rules:
  - {id: chatty, order: 1, when: "true", actions: [{comment: "seen {{ incident.lastUpdateDateTime }}"}]}
`)
	r := e.start("w1", rules.Static{RS: rs}, e.graphClient(nil), func(o *replica.Options) { o.ActionBudget = 3 })
	for v := range 5 {
		e.publish(versionEvent(t, "8000", v, "updated"), tenant, "8000", "")
	}
	e.waitFor(15*time.Second, "settled", func() bool { return e.settled() && len(e.streamMsgs(e.topo.DLQStream)) == 2 })
	if c := e.comments("8000"); len(c) != 3 {
		t.Errorf("%d comments, want the budget of 3", len(c))
	}
	for _, m := range e.streamMsgs(e.topo.DLQStream) {
		if m.Header.Get(consume.HeaderReason) != "action_budget" || !strings.Contains(m.Header.Get(consume.HeaderError), "budget 3") {
			t.Errorf("dead letter %v", m.Header)
		}
	}
	if testutil.ToFloat64(r.metrics.BudgetExceeded) != 2 {
		t.Error("budget metric")
	}
}

// TestRetriesExhaustedGoToTheDLQ: an event that keeps failing for longer
// than its retry budget (a time, not a count) is dead-lettered with the last
// failure; the budget counts from its first failure.
func TestRetriesExhaustedGoToTheDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fake: graphfake.Options{ServerErrorRate: 1}})
	e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(func(c *graph.Config) { c.MaxAttempts = 1 }),
		func(o *replica.Options) { o.RetryBudget = 700 * time.Millisecond })
	e.publishFixture("redteam-created.json")
	e.waitFor(20*time.Second, "dead letter", func() bool { return len(e.streamMsgs(e.topo.DLQStream)) == 1 && e.settled() })
	m := e.streamMsgs(e.topo.DLQStream)[0]
	n, _ := strconv.Atoi(m.Header.Get(consume.HeaderDeliveries))
	if m.Header.Get(consume.HeaderReason) != "retries_exhausted" || n < 2 ||
		!strings.Contains(m.Header.Get(consume.HeaderError), "503") || !strings.Contains(m.Header.Get(consume.HeaderError), "budget 700ms") ||
		m.Subject != "graphsoar.dlq."+tenant+".4212" {
		t.Errorf("dead letter %s %v", m.Subject, m.Header)
	}
}

func TestReloaderKeepsGoodRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "rules:\n  - {id: a, order: 1, when: 'true', actions: [{tag: a}]}\n")
	m := telemetry.NewMetrics()
	r, err := rules.NewReloader(dir, actions.Builtin(), testLogger(t), m.ObserveRules)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := r.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); wait() }()
	ids := func() []string {
		var out []string
		for _, x := range r.Current().Rules() {
			out = append(out, x.ID)
		}
		return out
	}
	deadline := func(what string, cond func() bool) {
		t.Helper()
		end := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(end) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	write("b.yaml", "rules:\n  - {id: b, order: 2, when: 'true', actions: [{tag: b}]}\n")
	deadline("b loaded", func() bool { return slices.Equal(ids(), []string{"a", "b"}) })
	write("c.yaml", "rules:\n  - {id: c, order: 3, when: 'incident.nope', actions: [{tag: c}]}\n")
	deadline("failed reload counted", func() bool { return testutil.ToFloat64(m.RuleReloads.WithLabelValues("failed")) >= 1 })
	if !slices.Equal(ids(), []string{"a", "b"}) {
		t.Errorf("a bad file replaced the rules: %v", ids())
	}
	write("c.yaml", "rules:\n  - {id: c, order: 3, when: 'true', actions: [{tag: c}]}\n")
	deadline("c loaded", func() bool { return slices.Equal(ids(), []string{"a", "b", "c"}) })
	if err := r.Reload(); err != nil {
		t.Errorf("explicit reload (SIGHUP): %v", err)
	}
}
