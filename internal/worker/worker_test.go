package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// These tests run the worker without NATS: memory stores behind its ports,
// a publisher double, and the real Graph client against the emulator.

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

// msg is a delivered message: only what the worker reads of one.
type msg struct {
	jetstream.Msg
	subject string
	data    []byte
}

func (m msg) Subject() string      { return m.subject }
func (m msg) Data() []byte         { return m.data }
func (m msg) Headers() nats.Header { return nats.Header{} }

func delivery(t *testing.T, fixture string, seq uint64, epoch uint64) *consume.Delivery {
	t.Helper()
	var ev struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	b := fixtures.Read(fixture)
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	subj := "graphsoar.incidents.0." + tenant + "." + ev.Data.ID
	return &consume.Delivery{Msg: msg{subject: subj, data: b},
		Meta:      &jetstream.MsgMetadata{Stream: "INCIDENTS", Sequence: jetstream.SequencePair{Stream: seq}, NumDelivered: 1, Timestamp: time.Now()},
		Partition: "0", Epoch: epoch, Tenant: tenant, Incident: ev.Data.ID, Key: tenant + "/" + ev.Data.ID, Subject: subj}
}

// redTeam is a delivery of the red-team fixture whose incident mutate
// changed.
func redTeam(t *testing.T, seq uint64, mutate func(data map[string]any)) *consume.Delivery {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(fixtures.Read("redteam-created.json"), &ev); err != nil {
		t.Fatal(err)
	}
	mutate(ev["data"].(map[string]any))
	b, _ := json.Marshal(ev)
	d := delivery(t, "redteam-created.json", seq, 1)
	d.Msg = msg{subject: d.Subject, data: b}
	return d
}

// publisher records audit records; fail, when set, refuses them.
type publisher struct {
	mu   sync.Mutex
	msgs []broker.Message
	fail error
}

func (p *publisher) PublishAll(_ context.Context, msgs []broker.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *publisher) results() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, m := range p.msgs {
		var a worker.AuditEvent
		_ = json.Unmarshal(m.Data, &a)
		out[a.Action+":"+a.Result]++
	}
	return out
}

type world struct {
	fake    *graphfake.Server
	rules   worker.RuleSource
	graph   worker.Graph
	w       *worker.Worker
	state   *kv.Memory
	effects *kv.Memory
	audit   *publisher
}

func newWorld(t testing.TB, ruleYAML string) *world {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(ruleYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	fake := graphfake.New(graphfake.Options{})
	for _, f := range []string{"ransomware-created.json", "redteam-created.json"} {
		if err := fake.Seed(fixtures.Read(f)); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
	client, err := graph.New(graph.Config{Root: hs.URL, Default: &graph.Credential{Auth: graph.AuthNone},
		IncidentRate: graph.RateLimit{PerMinute: -1}, Defender: graph.Defender{URL: hs.URL, IndicatorRate: graph.RateLimit{PerMinute: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	wd := &world{fake: fake, rules: rules.Static{RS: rs}, graph: client, state: &kv.Memory{}, effects: &kv.Memory{}, audit: &publisher{}}
	wd.w, err = worker.New(worker.Options{Rules: wd.rules, Graph: client, State: wd.state, Effects: wd.effects,
		Audit: wd.audit, ID: "w1"})
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

const redTeamRule = `
rules:
  - id: close-red-team
    order: 1
    when: 'any(devices(incident), {.rbacGroupName == "RedTeam"})'
    actions:
      - set_status: resolved
      - comment: "Closed by {{ rule.id }}"
`

func TestHandleWritesAuditsAndStoresStateWithoutNATS(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	r := wd.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1))
	if r.Verdict != consume.Ack {
		t.Fatalf("verdict %s (%s: %v)", r.Verdict, r.Reason, r.Err)
	}
	if got := wd.audit.results(); got["set_status:applied"] != 1 || got["comment:applied"] != 1 {
		t.Errorf("audit %v", got)
	}
	if _, err := wd.state.Get(context.Background(), "i."+tenant+".4212"); err != nil {
		t.Errorf("the incident's state was not stored before the ack: %v", err)
	}
	if n := len(wd.fake.Comments("4212")); n != 1 {
		t.Errorf("%d comments", n)
	}
}

// TestUnstoredAuditRetriesWithoutWritingTwice: audit records JetStream did
// not acknowledge make the event retried; the retry writes nothing again.
func TestUnstoredAuditRetriesWithoutWritingTwice(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	wd.audit.fail = errors.New("nats: no responders")
	r := wd.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1))
	if r.Verdict != consume.Retry || r.Reason != "audit" {
		t.Fatalf("verdict %s reason %q, want retry audit", r.Verdict, r.Reason)
	}
	wd.audit.fail = nil
	d := delivery(t, "redteam-created.json", 1, 1)
	d.Meta.NumDelivered = 2
	if r := wd.w.Handle(context.Background(), d); r.Verdict != consume.Ack {
		t.Fatalf("second attempt %s: %v", r.Verdict, r.Err)
	}
	if n := len(wd.fake.Comments("4212")); n != 1 {
		t.Errorf("%d comments after the retry, want 1", n)
	}
	if got := wd.audit.results(); got["comment:duplicate"] != 1 {
		t.Errorf("audit of the retry %v", got)
	}
}

// TestUnstoredStateRetries: an incident state that cannot be stored is not
// acknowledged.
func TestUnstoredStateRetries(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	wd.state.Fail = func(op, key string) error {
		if op != "get" && strings.HasPrefix(key, "i.") {
			return errors.New("nats: timeout")
		}
		return nil
	}
	r := wd.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1))
	if r.Verdict != consume.Retry || r.Reason != "state" {
		t.Fatalf("verdict %s reason %q: %v", r.Verdict, r.Reason, r.Err)
	}
}

// TestClaimOfAFencedOwnerIsTakenOver: a comment claimed by the previous
// owner of the partition (an older epoch), killed before writing, is
// checked against Graph and written at once, not after the claim's lease.
func TestClaimOfAFencedOwnerIsTakenOver(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	ops, err := rulesOps(t, redTeamRule)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(map[string]any{"state": "pending", "owner": "w0", "partition": "0", "epoch": 1,
		"until": time.Now().Add(time.Hour), "action": "comment", "tenant": tenant, "incident": "4212"})
	if _, err := wd.effects.Put(context.Background(), ops, rec); err != nil {
		t.Fatal(err)
	}
	r := wd.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 2))
	if r.Verdict != consume.Ack {
		t.Fatalf("verdict %s: %v", r.Verdict, r.Err)
	}
	if n := len(wd.fake.Comments("4212")); n != 1 {
		t.Errorf("%d comments: the fenced owner's claim was not taken over", n)
	}
	// Under the same epoch the claim is another live writer's: busy.
	wd2 := newWorld(t, redTeamRule)
	if _, err := wd2.effects.Put(context.Background(), ops, rec); err != nil {
		t.Fatal(err)
	}
	if r := wd2.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1)); r.Verdict != consume.Retry {
		t.Errorf("a live claim of the same epoch: verdict %s, want retry", r.Verdict)
	}
}

// TestThinEventOfAMissingIncident: a thin event whose incident Graph does
// not know goes to the dead letters as incident_not_found.
func TestThinEventOfAMissingIncident(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	d := delivery(t, "redteam-created.json", 1, 1)
	d.Msg = msg{subject: "graphsoar.incidents.0." + tenant + ".9999",
		data: []byte(`{"specversion":"1.0","id":"thin-1","type":"com.microsoft.graph.security.incident.updated","tenantid":"` + tenant + `","data":{"id":"9999"}}`)}
	d.Incident, d.Key = "9999", tenant+"/9999"
	if r := wd.w.Handle(context.Background(), d); r.Verdict != consume.DeadLetter || r.Reason != "incident_not_found" {
		t.Errorf("verdict %s reason %q", r.Verdict, r.Reason)
	}
}

// rulesOps returns the idempotency key of the red-team comment.
func rulesOps(t *testing.T, _ string) (string, error) {
	t.Helper()
	effs := actions.Comment{}.Effects(actions.Target{Tenant: tenant, IncidentID: "4212"}, "close-red-team",
		actions.Params{"comment": "Closed by close-red-team"})
	if len(effs) != 1 || !strings.HasPrefix(effs[0].Key, "comment.") {
		return "", errors.New("no comment effect")
	}
	return effs[0].Key, nil
}

// TestFutureVersionIsNotTrusted: an event dated years ahead is handled with
// the incident as Graph has it, and does not make the next genuine event
// stale; when Graph too is in the future, it is dead-lettered.
func TestFutureVersionIsNotTrusted(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	future := func(seq uint64) *consume.Delivery {
		return redTeam(t, seq, func(data map[string]any) { data["lastUpdateDateTime"] = "2030-01-01T00:00:00Z" })
	}
	if r := wd.w.Handle(context.Background(), future(1)); r.Verdict != consume.Ack {
		t.Fatalf("verdict %s (%s: %v)", r.Verdict, r.Reason, r.Err)
	}
	if n := len(wd.fake.RequestsFor("GET", "/v1.0/security/incidents/4212")); n == 0 {
		t.Error("the incident was not read from Graph")
	}
	e, err := wd.state.Get(context.Background(), "i."+tenant+".4212")
	if err != nil || strings.Contains(string(e.Value), "2030") {
		t.Errorf("the future version was recorded as handled: %s %v", e.Value, err)
	}
	// Graph itself in the future: not trusted either.
	wd2 := newWorld(t, redTeamRule)
	if err := wd2.fake.Seed(redTeam(t, 1, func(data map[string]any) { data["lastUpdateDateTime"] = "2031-01-01T00:00:00Z" }).Msg.Data()); err != nil {
		t.Fatal(err)
	}
	if r := wd2.w.Handle(context.Background(), future(1)); r.Verdict != consume.DeadLetter || r.Reason != "future_version" {
		t.Errorf("verdict %s reason %q", r.Verdict, r.Reason)
	}
}

// TestRetryFinishesThePlan: the first delivery's PATCH succeeds (the
// incident is resolved) and the comment gets a 503; on the retry the
// incident no longer matches the rule (it is resolved, by graphsoar), yet the
// plan made before is finished: the comment is posted. A change by another
// party since the plan makes it decided again.
func TestRetryFinishesThePlan(t *testing.T) {
	t.Parallel()
	const rule = `
rules:
  - id: close-red-team
    order: 1
    when: 'incident.status == "active" && any(devices(incident), {.rbacGroupName == "RedTeam"})'
    actions:
      - set_status: resolved
      - comment: "Closed by {{ rule.id }}"
`
	t.Run("our own write", func(t *testing.T) {
		t.Parallel()
		wd := newWorld(t, rule)
		wd.fake.FailNext(graphfake.Fault{Method: "POST", PathPrefix: "/v1.0/security/incidents/4212/comments", Status: 503, Times: 1})
		if r := wd.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1)); r.Verdict != consume.Retry {
			t.Fatalf("first delivery %s: %v", r.Verdict, r.Err)
		}
		if inc, _ := wd.fake.Incident("4212"); inc["status"] != "resolved" {
			t.Fatalf("the PATCH was not applied: %v", inc["status"])
		}
		d := delivery(t, "redteam-created.json", 1, 1)
		d.Meta.NumDelivered = 2
		if r := wd.w.Handle(context.Background(), d); r.Verdict != consume.Ack {
			t.Fatalf("retry %s: %v", r.Verdict, r.Err)
		}
		if n := len(wd.fake.Comments("4212")); n != 1 {
			t.Errorf("%d comments: the planned comment was lost after the partial success", n)
		}
		if _, err := wd.state.Get(context.Background(), "plan.INCIDENTS.1"); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("the plan is kept after the event was settled: %v", err)
		}
	})
	t.Run("another party's change", func(t *testing.T) {
		t.Parallel()
		wd := newWorld(t, rule)
		wd.fake.FailNext(graphfake.Fault{Method: "POST", PathPrefix: "/v1.0/security/incidents/4212/comments", Status: 503, Times: 1})
		if r := wd.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1)); r.Verdict != consume.Retry {
			t.Fatalf("first delivery %s: %v", r.Verdict, r.Err)
		}
		// An analyst reopens the incident and assigns it meanwhile.
		reopened := redTeam(t, 1, func(data map[string]any) {
			data["status"], data["assignedTo"] = "inProgress", "analyst@contoso.com"
			data["lastUpdateDateTime"], data["lastModifiedBy"] = time.Now().UTC().Format(time.RFC3339Nano), "analyst@contoso.com"
		})
		if err := wd.fake.Seed(reopened.Msg.Data()); err != nil {
			t.Fatal(err)
		}
		d := delivery(t, "redteam-created.json", 1, 1)
		d.Meta.NumDelivered = 2
		if r := wd.w.Handle(context.Background(), d); r.Verdict != consume.Ack {
			t.Fatalf("retry %s: %v", r.Verdict, r.Err)
		}
		if n := len(wd.fake.Comments("4212")); n != 0 {
			t.Errorf("%d comments: the plan was carried out on an incident the analyst changed", n)
		}
	})
}

// TestOversizedEventsAreDeadLettered: an event over the size bound, or with
// more alerts or evidence than allowed, goes to the dead letters as
// too_large before any rule sees it.
func TestOversizedEventsAreDeadLettered(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts func(*worker.Options)
	}{
		{"bytes", func(o *worker.Options) { o.MaxEventBytes = 1000 }},
		{"alerts", func(o *worker.Options) { o.MaxAlerts = 2 }},
		{"evidence", func(o *worker.Options) { o.MaxEvidence = 2 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wd := newWorld(t, redTeamRule)
			o := worker.Options{Rules: wd.rules, Graph: wd.graph, State: wd.state, Effects: wd.effects, Audit: wd.audit, ID: "w1"}
			tt.opts(&o)
			w, err := worker.New(o)
			if err != nil {
				t.Fatal(err)
			}
			// Three alerts (the fixture's, three times).
			d := redTeam(t, 1, func(data map[string]any) {
				alerts := data["alerts"].([]any)
				data["alerts"] = []any{alerts[0], alerts[0], alerts[0]}
			})
			r := w.Handle(context.Background(), d)
			if r.Verdict != consume.DeadLetter || r.Reason != "too_large" {
				t.Errorf("verdict %s reason %q (%v)", r.Verdict, r.Reason, r.Err)
			}
			if n := len(wd.fake.Requests()); n != 0 {
				t.Errorf("%d Graph requests for an oversized event", n)
			}
		})
	}
}

// TestOversizedIncidentFromGraphIsDeadLettered: a thin event is small; the
// incident Graph returns for it is held to the same size bound as an event,
// before the rules see it.
func TestOversizedIncidentFromGraphIsDeadLettered(t *testing.T) {
	t.Parallel()
	wd := newWorld(t, redTeamRule)
	if err := wd.fake.Seed(fixtures.Read("phishing-created.json")); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Options{Rules: wd.rules, Graph: wd.graph, State: wd.state, Effects: wd.effects, Audit: wd.audit,
		ID: "w1", MaxEventBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	d := delivery(t, "thin-reference.json", 1, 1)
	r := w.Handle(context.Background(), d)
	if r.Verdict != consume.DeadLetter || r.Reason != "too_large" || !strings.Contains(errString(r.Err), "more than the limit of 1000") {
		t.Errorf("verdict %s reason %q (%v)", r.Verdict, r.Reason, r.Err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
