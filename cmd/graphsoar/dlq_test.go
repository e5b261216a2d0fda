package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/natstest"
)

// TestDLQListAndReplay: dlq list shows the dead letters (filtered by
// reason), dlq replay publishes them to their producer's subject and
// removes them from the dead-letter stream.
func TestDLQListAndReplay(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	topo := broker.DefaultTopology()
	if err := broker.EnsureStream(ctx, js, topo, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureSideStreams(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	for i, reason := range []string{"graph_permanent", "malformed"} {
		m := nats.NewMsg("graphsoar.dlq." + fixtureTenant + ".4212")
		m.Data = fixtures.Read("redteam-created.json")
		m.Header.Set(consume.HeaderReason, reason)
		m.Header.Set(consume.HeaderError, "patch incident 4212: 400 invalidRequest")
		m.Header.Set(consume.HeaderSubject, "security.incidents."+fixtureTenant+".4212")
		m.Header.Set(consume.HeaderDeliveries, "1")
		m.Header.Set(consume.HeaderOrigPrefix+"Nats-Msg-Id", "b6f7c0de-0002")
		m.Header.Set(nats.MsgIdHdr, "dlq:INCIDENTS:"+string(rune('1'+i)))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	r := cli(t, nil, "", "dlq", "list", "--nats-url", srv.URL(), "--reason", "graph_permanent", "--format", "json")
	if r.code != 0 {
		t.Fatalf("list: exit %d %s", r.code, r.err)
	}
	var letters []map[string]any
	if err := json.Unmarshal([]byte(r.out), &letters); err != nil || len(letters) != 1 {
		t.Fatalf("list output %q: %v", r.out, err)
	}
	if letters[0]["incident"] != "4212" || letters[0]["event"] != "b6f7c0de-0002" || letters[0]["reason"] != "graph_permanent" {
		t.Errorf("letter %v", letters[0])
	}
	if r := cli(t, nil, "", "dlq", "list", "--nats-url", srv.URL()); r.code != 0 || !strings.Contains(r.out, "malformed") || !strings.Contains(r.err, "2 dead letter(s)") {
		t.Errorf("text list: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	r = cli(t, nil, "", "dlq", "replay", "--nats-url", srv.URL(), "--reason", "graph_permanent")
	if r.code != 0 || !strings.Contains(r.out, "replayed to security.incidents."+fixtureTenant+".4212") {
		t.Fatalf("replay: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	s, _ := js.Stream(ctx, topo.Stream)
	info, _ := s.Info(ctx)
	if info.State.Msgs != 1 {
		t.Errorf("%d events in the incident stream after the replay, want 1", info.State.Msgs)
	}
	got, err := s.GetLastMsgForSubject(ctx, topo.PartitionPrefix+".>")
	if err != nil || got.Header.Get(consume.HeaderReplayOf) == "" || got.Header.Get(consume.HeaderReason) != "" {
		t.Errorf("replayed message %v: %v", got, err)
	}
	d, _ := js.Stream(ctx, topo.DLQStream)
	if dinfo, _ := d.Info(ctx); dinfo.State.Msgs != 1 {
		t.Errorf("%d dead letters left, want the malformed one", dinfo.State.Msgs)
	}
}
