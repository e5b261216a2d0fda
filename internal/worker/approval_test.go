package worker_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// A rule that resolves the red-team incident at once and holds its tag and
// its comment for approval.
const heldRule = `
rules:
  - id: red-team
    order: 1
    when: 'any(devices(incident), {.rbacGroupName == "RedTeam"})'
    actions:
      - set_status: resolved
      - tag: {tags: [vip], approval: required}
      - comment: {comment: "Escalated by {{ rule.id }}", approval: required}
`

// headerMsg is a delivered message with headers (a decision).
type headerMsg struct {
	msg
	h nats.Header
}

func (m headerMsg) Headers() nats.Header { return m.h }

type approvalWorld struct {
	*world
	store *approval.Store
	bus   *publisher // where decisions are published
	now   time.Time
	seq   uint64
}

func newApprovalWorld(t *testing.T) *approvalWorld {
	t.Helper()
	wd := newWorld(t, heldRule)
	aw := &approvalWorld{world: wd, bus: &publisher{}, now: time.Now(), seq: 100}
	aw.store = approval.NewStore(&kv.Memory{}, aw.bus, func() time.Time { return aw.now })
	var err error
	wd.w, err = worker.New(worker.Options{Rules: wd.rules, Graph: wd.graph, State: wd.state, Effects: wd.effects,
		Audit: wd.audit, ID: "w1", Approvals: aw.store, ApprovalTimeout: time.Hour, Now: func() time.Time { return aw.now }})
	if err != nil {
		t.Fatal(err)
	}
	return aw
}

// deliverDecisions hands the decisions published since the last call to
// the worker, as the consumer would, and returns their results.
func (aw *approvalWorld) deliverDecisions(t *testing.T) []consume.Result {
	t.Helper()
	aw.bus.mu.Lock()
	msgs := aw.bus.msgs
	aw.bus.msgs = nil
	aw.bus.mu.Unlock()
	var out []consume.Result
	for _, m := range msgs {
		aw.seq++
		d := &consume.Delivery{Msg: headerMsg{msg: msg{subject: m.Subject, data: m.Data}, h: m.Header},
			Meta:      &jetstream.MsgMetadata{Stream: "INCIDENTS", Sequence: jetstream.SequencePair{Stream: aw.seq}, NumDelivered: 1},
			Partition: "0", Epoch: 1, Tenant: tenant, Incident: "4212", Subject: m.Subject}
		out = append(out, aw.w.Handle(context.Background(), d))
	}
	return out
}

func (aw *approvalWorld) held(t *testing.T) map[string]approval.Record {
	t.Helper()
	recs, err := aw.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]approval.Record{}
	for _, r := range recs {
		out[r.Action] = r
	}
	return out
}

func tags(t *testing.T, aw *approvalWorld) []string {
	t.Helper()
	inc, _ := aw.fake.Incident("4212")
	var out []string
	for _, v := range inc["customTags"].([]any) {
		out = append(out, v.(string))
	}
	return out
}

// TestHeldActionsWaitWhileTheRestOfThePlanProceeds: the held tag and
// comment are not written and are audited awaiting_approval; the status is
// written at once; later events of the incident hold nothing twice.
func TestHeldActionsWaitWhileTheRestOfThePlanProceeds(t *testing.T) {
	t.Parallel()
	aw := newApprovalWorld(t)
	if r := aw.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1)); r.Verdict != consume.Ack {
		t.Fatalf("verdict %s: %v", r.Verdict, r.Err)
	}
	got := aw.audit.results()
	if got["set_status:applied"] != 1 || got["tag:awaiting_approval"] != 1 || got["comment:awaiting_approval"] != 1 {
		t.Fatalf("audit %v", got)
	}
	if inc, _ := aw.fake.Incident("4212"); inc["status"] != "resolved" {
		t.Errorf("status %v: the rest of the plan did not proceed", inc["status"])
	}
	if slices.Contains(tags(t, aw), "vip") || len(aw.fake.Comments("4212")) != 0 {
		t.Fatalf("a held action was written: tags %v, %d comments", tags(t, aw), len(aw.fake.Comments("4212")))
	}
	held := aw.held(t)
	if len(held) != 2 || held["tag"].Status != approval.Pending || held["comment"].Params.String("comment") != "Escalated by red-team" {
		t.Fatalf("held %+v", held)
	}
	if held["tag"].Subject != "graphsoar.incidents.0."+tenant+".4212" || !held["tag"].Deadline.Equal(aw.now.Add(time.Hour)) {
		t.Errorf("record %+v", held["tag"])
	}
	// A later event plans the same actions: they are held once.
	aw.now = aw.now.Add(time.Minute)
	d := redTeam(t, 2, func(data map[string]any) {
		data["lastUpdateDateTime"] = time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	})
	if r := aw.w.Handle(context.Background(), d); r.Verdict != consume.Ack {
		t.Fatalf("second event %s: %v", r.Verdict, r.Err)
	}
	if n := len(aw.held(t)); n != 2 {
		t.Errorf("%d records after a second event, want 2", n)
	}
	if got := aw.audit.results(); got["tag:awaiting_approval"] != 2 {
		t.Errorf("audit after the second event %v", got)
	}
}

// TestApprovedActionIsCarriedOutOnce: approving publishes a decision on the
// incident's subject; the worker writes the action, audits it with the
// approval and who decided, and finishes the record; the same decision
// delivered again (a republish, a redelivery) writes nothing more.
func TestApprovedActionIsCarriedOutOnce(t *testing.T) {
	t.Parallel()
	aw := newApprovalWorld(t)
	aw.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1))
	held := aw.held(t)
	ctx := context.Background()
	if _, err := aw.store.Approve(ctx, held["tag"].ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := aw.store.Approve(ctx, held["comment"].ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := aw.store.Reject(ctx, held["tag"].ID, "bob"); err == nil {
		t.Error("a decided action was rejected")
	}
	aw.bus.mu.Lock()
	decisions := slices.Clone(aw.bus.msgs)
	aw.bus.mu.Unlock()
	for _, r := range aw.deliverDecisions(t) {
		if r.Verdict != consume.Ack {
			t.Fatalf("decision %s (%s): %v", r.Verdict, r.Reason, r.Err)
		}
	}
	if !slices.Contains(tags(t, aw), "vip") || len(aw.fake.Comments("4212")) != 1 {
		t.Fatalf("approved actions not carried out: tags %v, %d comments\n%s", tags(t, aw), len(aw.fake.Comments("4212")), aw.audit.dump())
	}
	for _, rec := range aw.held(t) {
		if !rec.Done || rec.Result != "applied" || rec.DecidedBy != "alice" {
			t.Errorf("record %+v", rec)
		}
	}
	var approved []worker.AuditEvent
	aw.audit.mu.Lock()
	for _, m := range aw.audit.msgs {
		var a worker.AuditEvent
		_ = json.Unmarshal(m.Data, &a)
		if a.Approval != "" && a.Result == "applied" {
			approved = append(approved, a)
		}
	}
	aw.audit.mu.Unlock()
	if len(approved) != 2 || approved[0].DecidedBy != "alice" {
		t.Errorf("audit of the approved actions %+v", approved)
	}
	// The same decisions again: nothing more is written.
	aw.bus.mu.Lock()
	aw.bus.msgs = decisions
	aw.bus.mu.Unlock()
	for _, r := range aw.deliverDecisions(t) {
		if r.Verdict != consume.Skip {
			t.Errorf("a decision carried out before: %s (%s)", r.Verdict, r.Reason)
		}
	}
	if n := len(aw.fake.Comments("4212")); n != 1 {
		t.Errorf("%d comments after the decision came again", n)
	}
	// An analyst removes the approved tag; a later event plans the same
	// actions: an approval is for one write, not standing desired state, so
	// nothing is written, held or audited again for them.
	if err := aw.fake.Update("4212", func(inc map[string]any) { inc["customTags"] = []any{} }); err != nil {
		t.Fatal(err)
	}
	before := aw.audit.results()
	d := redTeam(t, 2, func(data map[string]any) {
		data["lastUpdateDateTime"] = time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
	})
	if r := aw.w.Handle(ctx, d); r.Verdict != consume.Ack {
		t.Fatalf("later event %s: %v", r.Verdict, r.Err)
	}
	after := aw.audit.results()
	for _, k := range []string{"tag:applied", "tag:awaiting_approval", "comment:applied", "comment:duplicate", "comment:awaiting_approval"} {
		if after[k] != before[k] {
			t.Errorf("audit %s: %d before the later event, %d after", k, before[k], after[k])
		}
	}
	if slices.Contains(tags(t, aw), "vip") {
		t.Error("the approved tag an analyst removed was written again without an approval")
	}
	if n := len(aw.fake.Comments("4212")); n != 1 {
		t.Errorf("%d comments after a later event", n)
	}
}

// TestRejectedAndExpiredActionsAreNeverWritten: a rejection and an expiry
// (the sweep, past the deadline) are audited once and never written.
func TestRejectedAndExpiredActionsAreNeverWritten(t *testing.T) {
	t.Parallel()
	aw := newApprovalWorld(t)
	aw.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1))
	held := aw.held(t)
	ctx := context.Background()
	if _, err := aw.store.Reject(ctx, held["tag"].ID, "bob"); err != nil {
		t.Fatal(err)
	}
	aw.now = aw.now.Add(2 * time.Hour)
	if _, err := aw.store.Approve(ctx, held["comment"].ID, "alice"); err == nil {
		t.Error("an action past its deadline was approved")
	}
	// The sweep expires the comment and, the rejection being undelivered
	// for longer than a minute, publishes it again: told twice, it is
	// carried out once.
	expired, republished, err := aw.store.Sweep(ctx, time.Minute)
	if err != nil || expired != 1 || republished != 1 {
		t.Fatalf("sweep expired %d, republished %d: %v", expired, republished, err)
	}
	verdicts := map[consume.Verdict]int{}
	for _, r := range aw.deliverDecisions(t) {
		verdicts[r.Verdict]++
	}
	if verdicts[consume.Ack] != 2 || verdicts[consume.Skip] != 1 {
		t.Fatalf("verdicts of the decisions %v", verdicts)
	}
	if got := aw.audit.results(); got["tag:rejected"] != 1 || got["comment:expired"] != 1 {
		t.Errorf("audit %v", got)
	}
	if slices.Contains(tags(t, aw), "vip") || len(aw.fake.Comments("4212")) != 0 {
		t.Errorf("a rejected or expired action was written")
	}
	after := aw.held(t)
	if after["tag"].Status != approval.Rejected || after["tag"].DecidedBy != "bob" || !after["tag"].Done ||
		after["comment"].Status != approval.Expired || !after["comment"].Done {
		t.Errorf("records %+v", after)
	}
	// Done: the sweep has nothing more to tell.
	if e, r, err := aw.store.Sweep(ctx, 0); e+r != 0 || err != nil {
		t.Errorf("second sweep: %d expired, %d republished, %v", e, r, err)
	}
}

func (p *publisher) dump() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s string
	for _, m := range p.msgs {
		s += string(m.Data) + "\n"
	}
	return s
}

// TestNoApprovalIsAskedForAStaleEvent: an event whose plan only holds an
// action is checked against Graph first; when the incident as Graph has it
// no longer calls for the action, nobody is asked to approve it.
func TestNoApprovalIsAskedForAStaleEvent(t *testing.T) {
	t.Parallel()
	aw := newApprovalWorld(t)
	err := aw.fake.Update("4212", func(inc map[string]any) {
		for _, a := range inc["alerts"].([]any) {
			for _, e := range a.(map[string]any)["evidence"].([]any) {
				if ev := e.(map[string]any); ev["rbacGroupName"] != nil {
					ev["rbacGroupName"] = "Finance"
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := aw.w.Handle(context.Background(), delivery(t, "redteam-created.json", 1, 1)); r.Verdict != consume.Ack {
		t.Fatalf("verdict %s: %v", r.Verdict, r.Err)
	}
	if held := aw.held(t); len(held) != 0 {
		t.Errorf("approvals asked for an incident that no longer calls for them: %+v", held)
	}
	if got := aw.audit.results(); got["tag:awaiting_approval"] != 0 || got["set_status:applied"] != 0 {
		t.Errorf("audit %v", got)
	}
}
