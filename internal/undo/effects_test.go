package undo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/kv"
)

// effectState is the state of an idempotency record ("" when none).
func (w *world) effectState(t *testing.T, key string) string {
	t.Helper()
	e, err := w.effects.Get(context.Background(), key)
	if errors.Is(err, kv.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ State string }
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.State
}

// Once the indicator is deleted, the worker's record of having blocked the
// hash goes too (else the worker would answer "duplicate" to every later
// block of it in the tenant); the records of other hashes stay. A dry run
// leaves it.
func TestUndoClearsTheBlocksIdempotencyRecord(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := actions.BlockEffectKey(fixtureTenant, hash1)
	w.undo(t, true)
	if st := w.effectState(t, key); st != "done" {
		t.Fatalf("the dry run touched the record: %q", st)
	}
	o := w.undo(t, false)
	if o.Failed() {
		t.Fatalf("%s: %+v", results(o), o)
	}
	if st := w.effectState(t, key); st != "" {
		t.Errorf("the block's idempotency record is still %q", st)
	}
	if st := w.effectState(t, actions.BlockEffectKey(fixtureTenant, hash2)); st != "done" {
		t.Errorf("another hash's record: %q", st)
	}
	var audited bool
	for _, r := range w.audit.all() {
		if r.Action == ActionBlock {
			audited = r.Result == Applied && r.Params.String("effectRecord") == effectCleared && r.Params.String("hash") == hash1
		}
	}
	if !audited {
		t.Errorf("the undo_block record does not say the idempotency record was cleared: %v", w.audit.all())
	}
	var text strings.Builder
	if err := (Report{Rule: "r", Incidents: []Outcome{o}}).WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "delete indicator 1 of "+hash1+"  (204); "+effectCleared) {
		t.Errorf("the report does not say it:\n%s", text.String())
	}
	if c := w.fake.Comments("4213"); len(c) != 2 || strings.Contains(c[1]["comment"].(string), "idempotency") {
		t.Errorf("the correction comment speaks of graphsoar's internals: %v", c)
	}
}

// A record another writer holds (pending) or that the worker will check
// against Defender anyway (unknown) is left as it is.
func TestUndoLeavesAnUnfinishedIdempotencyRecord(t *testing.T) {
	t.Parallel()
	for _, state := range []string{"pending", "unknown"} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			key := actions.BlockEffectKey(fixtureTenant, hash1)
			if _, err := w.effects.Put(context.Background(), key, []byte(`{"state":"`+state+`"}`)); err != nil {
				t.Fatal(err)
			}
			o := w.undo(t, false)
			s := o.Steps[3]
			if s.Result != Applied || !strings.Contains(s.Effect, "left as it is ("+state+")") || w.effectState(t, key) != state {
				t.Errorf("step %+v, record %q", s, w.effectState(t, key))
			}
		})
	}
}

// The indicator deleted but its record not cleared: the step fails, and the
// next run, which finds no indicator, clears the record and closes the undo.
func TestUndoClearsTheRecordAfterAFailure(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	key := actions.BlockEffectKey(fixtureTenant, hash1)
	failing := true
	var mu sync.Mutex
	w.effects.Fail = func(op, k string) error {
		mu.Lock()
		defer mu.Unlock()
		if failing && op == "delete" && k == key {
			return errors.New("nats: timeout")
		}
		return nil
	}
	o := w.undo(t, false)
	s := o.Steps[3]
	if s.Result != Failed || !strings.Contains(s.Reason, "indicator 1 of "+hash1+" deleted, but its idempotency record "+key+" is not cleared") ||
		!strings.Contains(s.Reason, "nats: timeout") || o.Steps[4].Result != Skipped {
		t.Fatalf("first run: %s %+v", results(o), s)
	}
	if len(w.fake.Indicators(fixtureTenant)) != 0 || w.effectState(t, key) != "done" {
		t.Fatalf("after the first run: indicators %v, record %q", w.fake.Indicators(fixtureTenant), w.effectState(t, key))
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	o = w.undo(t, false)
	if got, want := results(o), "status=earlier classification+determination=earlier tags=earlier block:"+hash1+"=skipped comment=applied"; got != want || o.Failed() {
		t.Fatalf("second run: %s, want %s", got, want)
	}
	if s := o.Steps[3]; s.Effect != effectCleared || w.effectState(t, key) != "" {
		t.Errorf("second run: %+v, record %q", s, w.effectState(t, key))
	}
}
