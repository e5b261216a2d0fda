package replica_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/dlq"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// TestDeadLetterReplay: an event Graph refused (400) is dead-lettered with
// the producer's subject, its producer headers kept under other names (so
// JetStream stores it even with Nats-Expected-* headers); once the cause is
// fixed, dlq replay has it handled again although its version was handled,
// and a second replay of the same dead letter is skipped.
func TestDeadLetterReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	e.fake.FailNext(graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4212", Status: 400, Times: 1})
	m := nats.NewMsg("security.incidents." + tenant + ".4212")
	m.Data = fixtures.Read("redteam-created.json")
	m.Header.Set(nats.MsgIdHdr, "b6f7c0de-0002")
	m.Header.Set("Nats-Expected-Stream", e.topo.Stream)
	m.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	e.waitFor(15*time.Second, "the dead letter", func() bool { return len(e.streamMsgs(e.topo.DLQStream)) == 1 && e.settled() })
	ctx := context.Background()
	letters, err := dlq.List(ctx, e.js, e.topo.DLQStream, dlq.Filter{Reason: "graph_permanent"})
	if err != nil || len(letters) != 1 {
		t.Fatalf("list: %v %+v", err, letters)
	}
	l := letters[0]
	if l.Subject != "security.incidents."+tenant+".4212" || l.Incident != "4212" || l.Event != "b6f7c0de-0002" {
		t.Errorf("dead letter %+v", l)
	}
	raw := e.streamMsgs(e.topo.DLQStream)[0]
	if raw.Header.Get(consume.HeaderOrigPrefix+"Nats-Expected-Stream") != e.topo.Stream || raw.Header.Get("Nats-Expected-Stream") != "" ||
		raw.Header.Get("Traceparent") == "" {
		t.Errorf("dead letter headers %v", raw.Header)
	}
	if n := testutil.ToFloat64(r.metrics.DeadLetters.WithLabelValues("graph_permanent")); n != 1 {
		t.Errorf("dead letters counted %v", n)
	}
	if other, _ := dlq.List(ctx, e.js, e.topo.DLQStream, dlq.Filter{Reason: "malformed"}); len(other) != 0 {
		t.Errorf("the reason filter let %d through", len(other))
	}
	if inc, _ := e.fake.Incident("4212"); inc["status"] == "resolved" {
		t.Fatal("the refused PATCH was applied")
	}

	// The cause is gone: replay.
	results := dlq.Replay(ctx, e.js, e.topo.DLQStream, letters, false)
	if len(results) != 1 || results[0].Err != nil {
		t.Fatalf("replay %+v", results)
	}
	e.waitFor(15*time.Second, "the replay handled", func() bool {
		inc, _ := e.fake.Incident("4212")
		return inc["status"] == "resolved" && e.settled()
	})
	if n := len(e.streamMsgs(e.topo.DLQStream)); n != 0 {
		t.Errorf("%d dead letters left after the replay", n)
	}
	// The same dead letter replayed once more (by hand, past JetStream's
	// duplicate window: another message id) is not handled twice.
	again := nats.NewMsg(l.Subject)
	again.Data = m.Data
	again.Header.Set(consume.HeaderReplayOf, fmt.Sprintf("%s:%d", e.topo.DLQStream, l.Seq))
	if _, err := e.js.PublishMsg(ctx, again); err != nil {
		t.Fatal(err)
	}
	e.waitFor(15*time.Second, "the second replay skipped", func() bool {
		return testutil.ToFloat64(r.metrics.Events.WithLabelValues("skipped_replayed")) == 1
	})
}
