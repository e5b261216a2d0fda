package undo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/worker"
)

const fixtureTenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

// memAudit is an audit stream in memory: it stores what is published, with
// sequences after the records given, and fails the messages fail matches.
type memAudit struct {
	t    *testing.T
	mu   sync.Mutex
	next uint64
	recs []Record
	fail func(m broker.Message) bool
}

func (a *memAudit) PublishAll(_ context.Context, msgs []broker.Message) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, m := range msgs {
		if a.fail != nil && a.fail(m) {
			errs = append(errs, errors.New("publish to "+m.Subject+": no responders"))
			continue
		}
		var e worker.AuditEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			a.t.Fatalf("an undo audit record does not read back: %v\n%s", err, m.Data)
		}
		if want := worker.AuditSubject(e.Tenant, e.Incident); m.Subject != want {
			a.t.Errorf("published to %s, want %s", m.Subject, want)
		}
		a.next++
		a.recs = append(a.recs, Record{Seq: a.next, AuditEvent: e})
	}
	return errors.Join(errs...)
}

func (a *memAudit) all() []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Record(nil), a.recs...)
}

// world is incident 4213 in the emulator after rule r's actions, the audit
// records of them, and the worker's idempotency record of the block.
type world struct {
	fake    *graphfake.Server
	graph   *graph.Client
	audit   *memAudit
	effects *kv.Memory
}

func newWorld(t *testing.T) *world {
	t.Helper()
	fake := graphfake.New(graphfake.Options{})
	if err := fake.Seed(fixtures.Read("bare-incident.json")); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
	rate := graph.RateLimit{PerMinute: 600000, Burst: 1000}
	g, err := graph.New(graph.Config{Root: hs.URL, Default: &graph.Credential{Auth: graph.AuthNone},
		BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, IncidentRate: rate, SecurityActionRate: rate,
		Defender: graph.Defender{URL: hs.URL, IndicatorRate: rate}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resolved, tp, malware := "resolved", "truePositive", "malware"
	if _, _, err := g.UpdateIncident(ctx, fixtureTenant, "4213", actions.Patch{Status: &resolved, Classification: &tp,
		Determination: &malware, CustomTags: []string{"malware"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.AddComment(ctx, fixtureTenant, "4213", "r: blocked it"); err != nil {
		t.Fatal(err)
	}
	b, _, err := g.BlockFileHash(ctx, fixtureTenant, graph.BlockRequest{Hash: hash1, Rule: "r", Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	on := func(seq uint64, action string, mod func(*Record)) Record {
		r := rec(seq, "4213", action, mod)
		r.Tenant = fixtureTenant
		return r
	}
	recs := []Record{
		on(1, "classify", func(r *Record) {
			r.Params = actions.Params{"classification": tp, "determination": malware}
			r.Changes = []worker.Change{ch("classification", "unknown", tp), ch("determination", "unknown", malware)}
		}),
		on(2, "set_status", changes("status", "active", resolved)),
		on(3, "tag", func(r *Record) { r.TagsAdded = []string{"malware"} }),
		on(4, "comment", func(r *Record) { r.Params = actions.Params{"comment": "r: blocked it"} }),
		on(5, "block_file_hash", func(r *Record) {
			r.Params = actions.Params{"hash": hash1}
			r.Block = &worker.BlockRef{Backend: string(b.Backend), ID: b.ID, Hash: hash1}
		}),
	}
	effects := &kv.Memory{}
	// As the worker leaves them: the block's record, and another hash's.
	for _, h := range []string{hash1, hash2} {
		if _, err := effects.Put(ctx, actions.BlockEffectKey(fixtureTenant, h), []byte(`{"state":"done","action":"block_file_hash","rule":"r","hash":"`+h+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	return &world{fake: fake, graph: g, audit: &memAudit{t: t, next: 5, recs: recs}, effects: effects}
}

// undo plans from every record so far and carries the one plan out.
func (w *world) undo(t *testing.T, dryRun bool) Outcome {
	t.Helper()
	o := Options{Graph: w.graph, DryRun: dryRun, ID: "test"}
	if !dryRun {
		o.Audit, o.Effects = w.audit, w.effects
	}
	u, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	plans := Plans(w.audit.all(), "r", "indicators")
	if len(plans) != 1 {
		t.Fatalf("%d plans", len(plans))
	}
	return u.Undo(context.Background(), plans[0])
}

func (w *world) writes() int {
	n := 0
	for _, r := range w.fake.Requests() {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

func results(o Outcome) string {
	var parts []string
	for _, s := range o.Steps {
		r := s.Result
		if s.Earlier {
			r = "earlier"
		}
		parts = append(parts, s.Key+"="+r)
	}
	return strings.Join(parts, " ")
}

func TestUndoDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	before := w.writes()
	o := w.undo(t, true)
	if got, want := results(o), "status=planned classification+determination=planned tags=planned block:"+hash1+"=planned comment=planned"; got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	if w.writes() != before || len(w.audit.all()) != 5 {
		t.Errorf("the dry run wrote: %d Graph writes, %d audit records", w.writes()-before, len(w.audit.all())-5)
	}
	if c := o.Steps[len(o.Steps)-1].Detail; !strings.Contains(c, "status resolved → active") || !strings.HasSuffix(c, "(audit records #1–#5)") {
		t.Errorf("the correction it would post: %s", c)
	}
}

// A run where a step fails posts no correction comment and is finished by
// the next run, which does not do the first run's steps again.
func TestUndoFinishesAfterAFailedStep(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.fake.FailNext(graphfake.Fault{Method: http.MethodDelete, PathPrefix: "/api/indicators", Status: 400, Message: "no"})
	o := w.undo(t, false)
	if got, want := results(o), "status=applied classification+determination=applied tags=applied block:"+hash1+"=failed comment=skipped"; got != want || !o.Failed() {
		t.Fatalf("first run: %s (failed %v), want %s", got, o.Failed(), want)
	}
	inc, _ := w.fake.Incident("4213")
	if inc["status"] != "active" || inc["classification"] != "unknown" || len(inc["customTags"].([]any)) != 0 || len(w.fake.Comments("4213")) != 1 {
		t.Fatalf("after the first run: %v", inc)
	}
	patches := len(w.fake.RequestsFor(http.MethodPatch, ""))

	o = w.undo(t, false)
	if got, want := results(o), "status=earlier classification+determination=earlier tags=earlier block:"+hash1+"=applied comment=applied"; got != want || o.Failed() {
		t.Fatalf("second run: %s, want %s", got, want)
	}
	if n := len(w.fake.RequestsFor(http.MethodPatch, "")); n != patches {
		t.Errorf("the second run patched again")
	}
	if len(w.fake.Indicators(fixtureTenant)) != 0 {
		t.Error("the indicator is still there")
	}
	cs := w.fake.Comments("4213")
	if len(cs) != 2 {
		t.Fatalf("comments: %v", cs)
	}
	if c := cs[1]["comment"].(string); !strings.Contains(c, "status resolved → active") || !strings.Contains(c, "tags removed: malware") ||
		!strings.Contains(c, "indicator 1 of "+hash1+" deleted") {
		t.Errorf("the correction does not name the first run's steps: %s", c)
	}

	before := w.writes()
	o = w.undo(t, false)
	if o.UndoneAt == nil || len(o.Steps) != 0 || w.writes() != before {
		t.Errorf("third run: %+v, %d writes", o, w.writes()-before)
	}
}

// The correction comment posted, but its audit record not stored: the next
// run sees the comment on the incident and does not post it again.
func TestUndoDoesNotPostTheCorrectionTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	failing := true
	w.audit.fail = func(m broker.Message) bool {
		return failing && strings.Contains(string(m.Data), `"action":"undo_comment"`)
	}
	o := w.undo(t, false)
	if o.Error == "" || !strings.Contains(o.Error, "no responders") || !o.Failed() {
		t.Fatalf("the lost audit record is not reported: %+v", o)
	}
	if n := len(w.fake.Comments("4213")); n != 2 {
		t.Fatalf("%d comments", n)
	}
	failing = false
	o = w.undo(t, false)
	c := o.Steps[len(o.Steps)-1]
	if c.Result != Skipped || !strings.HasPrefix(c.Reason, "already on the incident") || o.Failed() {
		t.Fatalf("second run: %s %+v", results(o), c)
	}
	if n := len(w.fake.Comments("4213")); n != 2 {
		t.Errorf("%d comments after the second run", n)
	}
	if o := w.undo(t, false); o.UndoneAt == nil {
		t.Errorf("the skipped comment did not close the undo: %s", results(o))
	}
}

func TestNewNeedsAnAuditPublisherAndTheEffectsBucket(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Graph: &graph.Client{}, Effects: &kv.Memory{}}); err == nil {
		t.Error("no publisher accepted")
	}
	if _, err := New(Options{Graph: &graph.Client{}, Audit: &memAudit{t: t}}); err == nil {
		t.Error("no effects bucket accepted")
	}
	if _, err := New(Options{Graph: &graph.Client{}, DryRun: true}); err != nil {
		t.Errorf("a dry run needs neither: %v", err)
	}
}

// A run that PATCHed but could not store its audit records: the next run
// finds the properties and tags already as before the rule, says so (not
// "changed since"), and its correction comment names them.
func TestUndoAfterARunLostItsPatchRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.audit.fail = func(m broker.Message) bool {
		return strings.Contains(string(m.Data), `"action":"undo_patch"`) || strings.Contains(string(m.Data), `"action":"undo_tag"`)
	}
	o := w.undo(t, false)
	if o.Error == "" {
		t.Fatalf("first run: %+v", o)
	}
	w.audit.fail = nil
	o = w.undo(t, false)
	if got, want := results(o), "status=skipped classification+determination=skipped tags=skipped block:"+hash1+"=applied comment=applied"; got != want || o.Failed() {
		t.Fatalf("second run: %s, want %s", got, want)
	}
	for _, s := range o.Steps[:2] {
		if s.LeftAlone || !strings.HasPrefix(s.Reason, "already back: ") {
			t.Errorf("%s: %+v", s.Key, s)
		}
	}
	cs := w.fake.Comments("4213")
	if len(cs) != 2 {
		t.Fatalf("comments: %v", cs)
	}
	c := cs[1]["comment"].(string)
	for _, want := range []string{"status resolved → active (found so already)", "truePositive/malware → unknown/unknown (found so already)",
		"tags malware found removed already", "indicator 1 of " + hash1 + " deleted"} {
		if !strings.Contains(c, want) {
			t.Errorf("the correction lacks %q: %s", want, c)
		}
	}
	if strings.Contains(c, "Left alone") {
		t.Errorf("the correction says something was left alone: %s", c)
	}
}
