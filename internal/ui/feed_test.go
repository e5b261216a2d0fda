package ui

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/graphsoar/graphsoar/internal/worker"
)

func TestFeed(t *testing.T) {
	t.Parallel()
	rec := func(event, rule, result, approval string) worker.AuditEvent {
		return worker.AuditEvent{Tenant: "t", Incident: "1", EventID: event, Rule: rule, Action: "tag", Result: result, Approval: approval}
	}
	f := newFeed(3)
	for i, a := range []worker.AuditEvent{
		rec("e1", "r1", "applied", ""),
		rec("e1", "r1", "unchanged", ""), // a second action of r1: still one match
		rec("e1", "r2", "awaiting_approval", "ap1"),
		rec("e1", "r2", "applied", "ap1"), // the approved action carried out: no new match
		rec("e2", "r3", "rule_error", ""), // an error is no match
		rec("e2", "r1", "applied", ""),
	} {
		f.add(uint64(i+1), a)
	}
	if got := f.matchCounts(); fmt.Sprint(got) != "map[r1:2 r2:1]" {
		t.Errorf("match counts %v, want r1:2 r2:1", got)
	}
	views := f.views()
	if len(views) != 2 || len(views[0].Records) != 4 || fmt.Sprint(views[0].Rules) != "[r1 r2]" || fmt.Sprint(views[1].Rules) != "[r1]" {
		t.Errorf("views %+v", views)
	}
	if f.last() != 6 {
		t.Errorf("last sequence %d, want 6", f.last())
	}
	// A record without an event id is filed under its incident.
	b := f.add(7, worker.AuditEvent{Tenant: "t", Incident: "9", Rule: "r1", Result: "expired", Approval: "ap2"})
	var v eventView
	if err := json.Unmarshal(b, &v); err != nil || v.Incident != "9" || len(v.Records) != 1 {
		t.Errorf("view of a record without event: %s %v", b, err)
	}
	// A fourth event pushes out the oldest.
	f.add(8, rec("e4", "r1", "applied", ""))
	views = f.views()
	if len(views) != 3 || views[0].Event != "e2" || views[2].Event != "e4" {
		t.Errorf("after eviction %+v", views)
	}
	if len(f.snapshot()) != 3 {
		t.Errorf("snapshot of %d events, want 3", len(f.snapshot()))
	}
}
