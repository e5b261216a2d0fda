package replica_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// One ransomware hash in several incidents handled at once by one replica:
// the hash is blocked once per tenant, the other incidents find it done.
func TestSameHashInConcurrentIncidentsIsBlockedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{seed: []string{}})
	var ev struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(fixtures.Read("ransomware-created.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ids := []string{"5001", "5002", "5003", "5004"}
	for _, id := range ids {
		ev.Data["id"] = id
		b, _ := json.Marshal(ev.Data)
		if err := e.fake.Seed(b); err != nil {
			t.Fatal(err)
		}
	}
	rs := rulesFrom(t, `
lists:
  bad: [9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7]
rules:
  - {id: block, order: 1, when: 'any(fileHashes(incident), {# in lists.bad})', actions: [{block_file_hash: {hashes: "{{ fileHashes(incident) }}"}}]}
`)
	// A slow security action keeps the first claim open while the others
	// arrive.
	r := e.start("w1", rules.Static{RS: rs}, slowBlock{e.graphClient(nil)}, nil)
	for _, id := range ids {
		ev.Data["id"] = id
		e.publish(envelope(t, "ev-"+id, "created", ev.Data), tenant, id, "ev-"+id)
	}
	e.waitFor(30*time.Second, "every event acked", func() bool {
		return e.settled() && testutil.ToFloat64(r.metrics.Events.WithLabelValues("acked")) == float64(len(ids))
	})
	if n := len(e.fake.Indicators(tenant)); n != 1 {
		t.Fatalf("%d security actions for one hash, want 1", n)
	}
	results := map[string]int{}
	for _, a := range e.audits() {
		results[a.Result]++
	}
	if results["applied"] != 1 || results["duplicate"] != len(ids)-1 {
		t.Errorf("audit results %v, want 1 applied and %d duplicate", results, len(ids)-1)
	}
}

// A dead letter that cannot be stored (the DLQ stream is gone) on the last
// delivery is not lost: the event keeps coming back and is stored once the
// stream is there again. JetStream's own delivery limit would drop it.
func TestDeadLetterNotStoredIsNotLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxDeliver: 2})
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, e.topo.DLQStream); err != nil {
		t.Fatal(err)
	}
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	e.publish([]byte("this is not json"), "t9", "9999", "bad-1")
	e.waitFor(20*time.Second, "deliveries beyond the limit", func() bool {
		info := e.consumerInfo()
		return info != nil && info.NumAckPending+int(info.NumPending) == 1 && info.Delivered.Consumer > 2
	})
	if err := broker.EnsureSideStreams(ctx, e.js, e.topo); err != nil {
		t.Fatal(err)
	}
	e.waitFor(20*time.Second, "the dead letter stored", func() bool {
		return len(e.streamMsgs(e.topo.DLQStream)) == 1 && e.settled()
	})
	m := e.streamMsgs(e.topo.DLQStream)[0]
	n, _ := strconv.Atoi(m.Header.Get(consume.HeaderDeliveries))
	if string(m.Data) != "this is not json" || n < 3 || m.Header.Get(consume.HeaderReason) != "retries_exhausted" {
		t.Errorf("dead letter %q, headers %v", m.Data, m.Header)
	}
	if got := testutil.ToFloat64(r.metrics.DeadLetters.WithLabelValues("retries_exhausted")); got != 1 {
		t.Errorf("dead letters counted %v, want 1 (only the stored one)", got)
	}
}

// consumerInfo sums the state of every partition consumer (nil on error).
func (e *env) consumerInfo() *jetstream.ConsumerInfo {
	ctx := context.Background()
	var sum jetstream.ConsumerInfo
	for _, p := range e.topo.PartitionIDs() {
		c, err := e.js.Consumer(ctx, e.topo.Stream, e.topo.ConsumerName(p))
		if err != nil {
			return nil
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil
		}
		sum.NumAckPending += info.NumAckPending
		sum.NumPending += info.NumPending
		sum.NumRedelivered += info.NumRedelivered
		sum.Delivered.Consumer += info.Delivered.Consumer
	}
	return &sum
}

// slowBlock takes half a second before each security action reaches Graph.
type slowBlock struct{ worker.Graph }

func (g slowBlock) BlockFileHash(ctx context.Context, tenantID string, r graph.BlockRequest) (graph.Block, graph.Info, error) {
	select {
	case <-ctx.Done():
		return graph.Block{}, graph.Info{}, ctx.Err()
	case <-time.After(500 * time.Millisecond):
	}
	return g.Graph.BlockFileHash(ctx, tenantID, r)
}
