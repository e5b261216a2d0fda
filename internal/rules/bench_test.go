package rules_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// benchEvents are the full-incident fixtures, evaluated in turn.
func benchEvents(tb testing.TB) [][]byte {
	tb.Helper()
	var out [][]byte
	for _, name := range fullFixtures() {
		out = append(out, fixtures.Read(name))
	}
	return out
}

// BenchmarkEngine measures decode + evaluate per event with graphsoar's engine
// on the 1,000 benchmark rules.
func BenchmarkEngine(b *testing.B) {
	rs, err := rules.Load("testdata/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	events := benchEvents(b)
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	matches := 0
	for i := 0; b.Loop(); i++ {
		ev, err := incident.Decode(events[i%len(events)])
		if err != nil {
			b.Fatal(err)
		}
		p := rs.Evaluate(rules.Input{Event: ev, Now: now})
		matches += len(p.Matches)
	}
	if matches == 0 {
		b.Fatal("no rule matched")
	}
}

// BenchmarkNaive measures the straightforward approach on the same rules and
// events: the event decoded into map[string]any, every rule run in turn on the
// expr VM, helpers walking the evidence at every call, lists as plain arrays.
func BenchmarkNaive(b *testing.B) {
	n := loadNaive(b, "testdata/bench/rules-1000.yaml")
	events := benchEvents(b)
	b.ReportAllocs()
	b.ResetTimer()
	matches := 0
	for i := 0; b.Loop(); i++ {
		matches += len(n.evaluate(b, events[i%len(events)]))
	}
	if matches == 0 {
		b.Fatal("no rule matched")
	}
}

// TestNaiveAgrees checks that the naive baseline is a faithful one: it matches
// exactly the rules the engine matches, so the benchmarks compare equal work.
func TestNaiveAgrees(t *testing.T) {
	rs, err := rules.Load("testdata/bench", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := loadNaive(t, "testdata/bench/rules-1000.yaml")
	for _, raw := range benchEvents(t) {
		ev, err := incident.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		got := rs.Evaluate(rules.Input{Event: ev}).MatchedRules()
		want := n.evaluate(t, raw)
		if len(got) != len(want) {
			t.Fatalf("incident %s: engine matched %v, naive %v", ev.IncidentID, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("incident %s: engine matched %v, naive %v", ev.IncidentID, got, want)
			}
		}
	}
}

// BenchmarkEvaluateOnly is BenchmarkEngine without the decoding.
func BenchmarkEvaluateOnly(b *testing.B) {
	rs, err := rules.Load("testdata/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	var events []*incident.Event
	for _, raw := range benchEvents(b) {
		ev, err := incident.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		events = append(events, ev)
	}
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rs.Evaluate(rules.Input{Event: events[i%len(events)], Now: now})
	}
}

// BenchmarkLoad measures loading and compiling the 1,000 rules (a reload).
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rules.Load("testdata/bench", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateNoMatch evaluates an event that none of the 1,000 rules
// matches (the worker's common case).
func BenchmarkEvaluateNoMatch(b *testing.B) {
	rs, err := rules.Load("testdata/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	ev, err := incident.Decode(fixtures.Read("phishing-created.json"))
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	if p := rs.Evaluate(rules.Input{Event: ev, Now: now}); len(p.Matches) != 0 {
		b.Fatalf("matched %v", p.MatchedRules())
	}
	b.ReportAllocs()
	for b.Loop() {
		rs.Evaluate(rules.Input{Event: ev, Now: now})
	}
}

// BenchmarkEvalJSON is what `graphsoar eval --event - --format json` does per
// event, on one core: decode a generated event (3,000 varied ones, in turn),
// evaluate the 1,000 rules and write the plan as a JSON line.
func BenchmarkEvalJSON(b *testing.B) {
	rs, err := rules.Load("testdata/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	events := genEvents(b, speedEvents, 7)
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev, err := incident.Decode(events[i%len(events)])
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if err := enc.Encode(rs.Evaluate(rules.Input{Event: ev, Now: now})); err != nil {
			b.Fatal(err)
		}
	}
}
