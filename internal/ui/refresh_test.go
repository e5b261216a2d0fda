package ui_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// sectionIDs reads a section's items by their "id" (approvals) or "event"
// (dead letters); ok is false for another event or an unreadable section.
func sectionIDs(ev sseEvent, kind string) (ids []string, ok bool) {
	if ev.kind != kind {
		return nil, false
	}
	var sec struct {
		Items []struct {
			ID    string `json:"id"`
			Event string `json:"event"`
		} `json:"items"`
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(ev.data), &sec) != nil || sec.Error != "" {
		return nil, false
	}
	for _, it := range sec.Items {
		if kind == "deadLetters" {
			ids = append(ids, it.Event)
		} else {
			ids = append(ids, it.ID)
		}
	}
	return ids, true
}

// isSection matches a section whose items are exactly ids, in order.
func isSection(kind string, ids ...string) func(sseEvent) bool {
	return func(ev sseEvent) bool {
		got, ok := sectionIDs(ev, kind)
		if !ok || len(got) != len(ids) {
			return false
		}
		for i := range ids {
			if got[i] != ids[i] {
				return false
			}
		}
		return true
	}
}

// TestRefreshReadsWhatChanged: while a browser watches and nothing
// changes, the page does not read the dead letters or the approvals again;
// it reads them when their stream changes, with no other sign (a dead
// letter removed from outside, a record written to the approvals bucket),
// and shows what changed.
func TestRefreshReadsWhatChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{approvalsBucket: true, fullRefresh: time.Hour})
	seq, _, _ := e.deadLetter("4299", "ev-dead", "incident_not_found")
	e.store.set(held("h1"))
	s := e.openStream(nil)
	s.waitFor(t, 10*time.Second, "the dead letter", isSection("deadLetters", "ev-dead"))
	s.waitFor(t, 10*time.Second, "the held action", isSection("approvals", "h1"))

	e.refreshes(2) // the refresh under way when the sections came is over
	dlqReads, lists := e.reads.of(e.topo.DLQStream), e.store.listed()
	e.refreshes(10)
	if got := e.reads.of(e.topo.DLQStream); got != dlqReads {
		t.Errorf("nothing changed, yet the dead letters were read %d times more in 10 refreshes", got-dlqReads)
	}
	if got := e.store.listed(); got != lists {
		t.Errorf("nothing changed, yet the approvals were read %d times more in 10 refreshes", got-lists)
	}

	// A record written to the bucket (no audit record, no action on the
	// page): the approvals are read again.
	e.store.set(held("h1"), held("h2"))
	if _, err := e.bucket.Put(context.Background(), "h2", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, 10*time.Second, "the approvals after the bucket changed", isSection("approvals", "h1", "h2"))

	// A dead letter removed by another (graphsoar dlq replay elsewhere):
	// nothing is published on a dead-letter subject, yet it goes.
	ds, err := e.js.Stream(context.Background(), e.topo.DLQStream)
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.DeleteMsg(context.Background(), seq); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, 10*time.Second, "no dead letter after its removal", isSection("deadLetters"))

	e.deadLetter("4300", "ev-new", "malformed")
	s.waitFor(t, 10*time.Second, "the new dead letter", isSection("deadLetters", "ev-new"))
}

// TestRefreshWithoutBucket: without the approvals bucket to look at, a
// change of the approvals that nothing announces shows within FullRefresh.
func TestRefreshWithoutBucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fullRefresh: 300 * time.Millisecond})
	s := e.openStream(nil)
	s.waitFor(t, 10*time.Second, "the empty approvals", isSection("approvals"))
	e.store.set(held("h1"))
	s.waitFor(t, 10*time.Second, "the held action, unannounced", isSection("approvals", "h1"))
}
