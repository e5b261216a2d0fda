package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/natstest"
)

// TestApprovalsCommands: approvals list shows a held action, approve
// decides it and tells the worker on the incident's subject, and a second
// decision or an unknown id exits 1 with the reason.
func TestApprovalsCommands(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	ctx := context.Background()
	topo := broker.DefaultTopology()
	if err := broker.EnsureStream(ctx, js, topo, true); err != nil {
		t.Fatal(err)
	}
	b, err := broker.EnsureApprovalsBucket(ctx, js, topo)
	if err != nil {
		t.Fatal(err)
	}
	st := approval.NewStore(kv.JetStream(b), broker.JetStreamPublisher{JS: js}, nil)
	params := actions.Params{"tags": []string{"vip"}}
	id := approval.ID(fixtureTenant, "4212", "red-team", "tag", params)
	subject := "security.incidents." + fixtureTenant + ".4212"
	if _, _, err := st.Hold(ctx, approval.Record{ID: id, Tenant: fixtureTenant, Incident: "4212", Rule: "red-team", Action: "tag",
		Params: params, Event: "e1", Subject: subject, Created: time.Now(), Deadline: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	url := srv.URL()

	r := cli(t, nil, "", "approvals", "list", "--nats-url", url, "--format", "json")
	var recs []approval.Record
	if r.code != 0 || json.Unmarshal([]byte(r.out), &recs) != nil || len(recs) != 1 || recs[0].Status != approval.Pending {
		t.Fatalf("list: exit %d %q %s", r.code, r.out, r.err)
	}
	if got := recs[0].Params.List("tags"); len(got) != 1 || got[0] != "vip" {
		t.Errorf("params %v", recs[0].Params)
	}
	if r := cli(t, nil, "", "approvals", "list", "--nats-url", url); r.code != 0 || !strings.Contains(r.out, id) || !strings.Contains(r.out, "tags=[vip]") {
		t.Errorf("text list: exit %d\n%s", r.code, r.out)
	}

	r = cli(t, nil, "", "approvals", "approve", id, "--by", "alice", "--nats-url", url)
	if r.code != 0 || !strings.Contains(r.out, "approved tag on incident 4212") {
		t.Fatalf("approve: exit %d %q %s", r.code, r.out, r.err)
	}
	s, err := js.Stream(ctx, topo.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, topo.PartitionPrefix+".>")
	if err != nil || m.Header.Get(approval.Header) != id {
		t.Fatalf("decision on the incident stream: %v %v", m, err)
	}
	rec, _, err := st.Get(ctx, id)
	if err != nil || rec.Status != approval.Approved || rec.DecidedBy != "alice" {
		t.Errorf("record %+v %v", rec, err)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"decided before", []string{"reject", id, "--by", "bob"}, "already decided: approved by alice"},
		{"unknown id", []string{"approve", "nope", "--by", "bob"}, "no such approval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, nil, "", append(append([]string{"approvals"}, tc.args...), "--nats-url", url)...)
			if r.code != 1 || !strings.Contains(r.err, tc.want) {
				t.Errorf("exit %d, stderr %q, want 1 and %q", r.code, r.err, tc.want)
			}
		})
	}
}
