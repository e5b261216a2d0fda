package replica_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// heldRules resolve every incident at once and hold a tag and a comment
// for approval.
const heldRules = `
rules:
  - id: escalate
    order: 1
    when: 'true'
    actions:
      - set_status: inProgress
      - tag: {tags: [escalated], approval: required}
      - comment: {comment: "Escalated {{ incident.id }}", approval: required}
`

// approvals is a store on its own connection, as the CLI has.
func (e *env) approvals() *approval.Store {
	e.t.Helper()
	_, js := e.connect()
	b, err := broker.EnsureApprovalsBucket(context.Background(), js, e.topo)
	if err != nil {
		e.t.Fatal(err)
	}
	return approval.NewStore(kv.JetStream(b), broker.JetStreamPublisher{JS: js}, nil)
}

// heldFor returns the records of an incident by action.
func heldFor(t *testing.T, st *approval.Store, incident string) map[string]approval.Record {
	t.Helper()
	recs, err := st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]approval.Record{}
	for _, r := range recs {
		if r.Incident == incident {
			out[r.Action] = r
		}
	}
	return out
}

// auditsOf counts an approval's audit records by result.
func (e *env) auditsOf(id string) map[string]int {
	out := map[string]int{}
	for _, a := range e.audits() {
		if a.Approval == id {
			out[a.Result]++
		}
	}
	return out
}

// TestApprovalSurvivesWorkerRestart: an action held by one worker process
// is approved while no worker runs; the next worker carries it out, once,
// from what JetStream kept (the record in its bucket, the decision in the
// incident stream).
func TestApprovalSurvivesWorkerRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{partitions: 2})
	rs := rules.Static{RS: rulesFrom(t, heldRules)}
	st := e.approvals()
	first := e.start("w1", rs, e.graphClient(nil), nil)
	e.seedIncident("7001")
	e.publish(versionEvent(t, "7001", 1, "created"), tenant, "7001", "7001-v1")
	e.waitFor(10*time.Second, "the tag and the comment held", func() bool { return len(heldFor(t, st, "7001")) == 2 })
	e.waitFor(10*time.Second, "the event settled", e.settled)
	if inc, _ := e.fake.Incident("7001"); inc["status"] != "inProgress" {
		t.Errorf("status %v: the rest of the plan did not proceed", inc["status"])
	}
	if err := first.stop(t); err != nil {
		t.Fatal(err)
	}
	held := heldFor(t, st, "7001")
	if _, err := st.Approve(context.Background(), held["comment"].ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Reject(context.Background(), held["tag"].ID, "bob"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.comments("7001")); n != 0 {
		t.Fatalf("%d comments with no worker running", n)
	}
	e.start("w2", rs, e.graphClient(nil), nil)
	e.waitFor(15*time.Second, "both decisions carried out", func() bool {
		h := heldFor(t, st, "7001")
		return h["comment"].Done && h["tag"].Done
	})
	if got := e.comments("7001"); !slices.Equal(got, []string{"Escalated 7001"}) {
		t.Errorf("comments %q", got)
	}
	if inc, _ := e.fake.Incident("7001"); slices.Contains(toStrings(inc["customTags"]), "escalated") {
		t.Errorf("the rejected tag was written: %v", inc["customTags"])
	}
	if got := e.auditsOf(held["comment"].ID); got["applied"] != 1 || got["awaiting_approval"] != 1 {
		t.Errorf("audit of the approved comment %v", got)
	}
	if got := e.auditsOf(held["tag"].ID); got["rejected"] != 1 {
		t.Errorf("audit of the rejected tag %v", got)
	}
}

// TestApprovalsAcrossTwoReplicas: with two replicas sharing the
// partitions, and one of them stopped right after the decisions, every
// approved action is carried out exactly once, and an action nobody decided
// expires exactly once although both replicas sweep.
func TestApprovalsAcrossTwoReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{partitions: 4})
	rs := rules.Static{RS: rulesFrom(t, heldRules)}
	st := e.approvals()
	fast := func(o *replica.Options) {
		o.ApprovalTimeout, o.ApprovalSweep, o.ApprovalRepublish = 20*time.Second, 200*time.Millisecond, 2*time.Second
	}
	r1 := e.start("w1", rs, e.graphClient(nil), fast)
	e.start("w2", rs, e.graphClient(nil), fast)
	var ids []string
	for i := range 8 {
		id := fmt.Sprintf("80%02d", i)
		tn := fmt.Sprintf("tenant-%d", i%4)
		ids = append(ids, id)
		e.seedIncidentFor(tn, id)
		e.publish(versionEventFor(t, tn, id, 1, "created"), tn, id, id+"-v1")
	}
	e.waitFor(20*time.Second, "16 actions held", func() bool {
		recs, _ := st.List(context.Background())
		return len(recs) == 16
	})
	var wg sync.WaitGroup
	for _, id := range ids {
		held := heldFor(t, st, id)
		wg.Go(func() {
			if _, err := st.Approve(context.Background(), held["comment"].ID, "alice"); err != nil {
				t.Error(err)
			}
		})
		if id != ids[0] {
			wg.Go(func() {
				if _, err := st.Approve(context.Background(), held["tag"].ID, "alice"); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	if err := r1.stop(t); err != nil { // its partitions move to w2 mid-way
		t.Fatal(err)
	}
	e.waitFor(30*time.Second, "every approved action carried out", func() bool {
		recs, _ := st.List(context.Background())
		for _, r := range recs {
			if r.Status == approval.Approved && !r.Done {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if got := e.comments(id); len(got) != 1 {
			t.Errorf("incident %s: comments %q, want one", id, got)
		}
		held := heldFor(t, st, id)
		if got := e.auditsOf(held["comment"].ID); got["applied"] != 1 {
			t.Errorf("incident %s: audit of the approved comment %v", id, got)
		}
		inc, _ := e.fake.Incident(id)
		if tagged := slices.Contains(toStrings(inc["customTags"]), "escalated"); tagged != (id != ids[0]) {
			t.Errorf("incident %s: tags %v", id, inc["customTags"])
		}
	}
	// The undecided tag of the first incident expires, once.
	undecided := heldFor(t, st, ids[0])["tag"]
	e.waitFor(40*time.Second, "the undecided action expired", func() bool {
		r := heldFor(t, st, ids[0])["tag"]
		return r.Status == approval.Expired && r.Done
	})
	e.waitFor(5*time.Second, "the expiry audited", func() bool { return e.auditsOf(undecided.ID)["expired"] >= 1 })
	e.waitFor(10*time.Second, "every decision settled", e.settled)
	if got := e.auditsOf(undecided.ID); got["expired"] != 1 {
		t.Errorf("audit of the expired tag %v", got)
	}
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, s := range l {
		if str, ok := s.(string); ok {
			out = append(out, str)
		}
	}
	return out
}
