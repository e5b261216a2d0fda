package replay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/replay"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// writeRules writes one rule file into a fresh directory and loads it.
func writeRules(t *testing.T, body string) *rules.RuleSet {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// ev is an event envelope of incident id at minute version, on one line.
func ev(id, typ string, minute int, severity, tag string) string {
	ts := time.Date(2026, 11, 20, 8, minute, 0, 0, time.UTC).Format(time.RFC3339)
	return fmt.Sprintf(`{"specversion":"1.0","id":"e-%s-%d","type":"com.microsoft.graph.security.incident.%s","time":%q,"tenantid":"t1",`+
		`"data":{"id":%q,"tenantId":"t1","status":"active","severity":%q,"lastUpdateDateTime":%q,"customTags":[%q]}}`,
		id, minute, typ, ts, id, severity, ts, tag)
}

const newRules = `
rules:
  - id: raised-to-high
    order: 10
    when: changed("severity") && previous.severity in ["low", "medium"] && incident.severity == "high"
    actions: [{tag: escalated}, {comment: "raised to high"}]
  - id: tag-vip
    order: 20
    when: '"vip" in incident.customTags'
    actions: [{tag: vip-seen}]
  - id: never
    order: 30
    when: incident.severity == "informational"
    actions: [{tag: info}]
`

// oldRules differs from newRules: tag-vip tags otherwise, raised-to-high does
// not comment, and a rule that newRules dropped tags every low incident.
const oldRules = `
rules:
  - id: raised-to-high
    order: 10
    when: changed("severity") && previous.severity in ["low", "medium"] && incident.severity == "high"
    actions: [{tag: escalated}]
  - id: tag-vip
    order: 20
    when: '"vip" in incident.customTags'
    actions: [{tag: vip}]
  - id: low-noise
    order: 40
    when: incident.severity == "low"
    actions: [{tag: noise}]
`

// history is a recorded sequence: incident 1 goes low -> high (previous
// carried), is then seen again at an older and at the same version (stale);
// incident 2 is a VIP incident; a thin event, a bad line and a blank line.
func history() string {
	return strings.Join([]string{
		ev("1", "created", 0, "low", "x"),
		ev("2", "created", 1, "medium", "vip"),
		`{"specversion":"1.0","id":"thin-1","type":"com.microsoft.graph.security.incident.updated","tenantid":"t1","data":{"id":"3"}}`,
		ev("1", "updated", 5, "high", "x"),
		"{broken",
		"",
		ev("1", "updated", 3, "medium", "x"),
		ev("1", "updated", 5, "high", "x"),
	}, "\n") + "\n"
}

func TestReplayFollowsTheWorker(t *testing.T) {
	t.Parallel()
	rs := writeRules(t, newRules)
	rep, err := replay.Run(context.Background(), replay.Options{Rules: rs}, replay.Lines(strings.NewReader(history()), "h.jsonl", 0))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"events", rep.Events, 7},
		{"incidents", rep.Incidents, 3},
		{"evaluated", rep.Evaluated, 3},
		{"stale", rep.Stale, 2},
		{"thin", rep.Thin, 1},
		{"invalid", len(rep.Invalid), 1},
		{"invalid ref", rep.Invalid[0].Ref, "h.jsonl:5"},
		{"rules", len(rep.Rules), 3},
		{"raised-to-high matches", rep.Rules[0].Matches, 1},
		{"raised-to-high tags", rep.Rules[0].Actions["tag"], 1},
		{"raised-to-high comments", rep.Rules[0].Actions["comment"], 1},
		{"tag-vip matches", rep.Rules[1].Matches, 1},
		{"never matches", rep.Rules[2].Matches, 0},
		{"diff without against", len(rep.Diff), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestReplayAgainstFindsExactlyTheChangedPlans(t *testing.T) {
	t.Parallel()
	rs, old := writeRules(t, newRules), writeRules(t, oldRules)
	rep, err := replay.Run(context.Background(), replay.Options{Rules: rs, Against: old}, replay.Lines(strings.NewReader(history()), "h.jsonl", 0))
	if err != nil {
		t.Fatal(err)
	}
	render := func(ps []replay.Planned) string {
		var out []string
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s/%s/%v", p.Rule, p.Type, rules.FormatParams(p.Params)))
		}
		return strings.Join(out, " ")
	}
	want := []struct{ event, added, removed string }{
		{"e-1-0", "", "low-noise/tag/tags=[noise]"},
		{"e-2-1", "tag-vip/tag/tags=[vip-seen]", "tag-vip/tag/tags=[vip]"},
		{"e-1-5", `raised-to-high/comment/comment="raised to high"`, ""},
	}
	if len(rep.Diff) != len(want) {
		t.Fatalf("diff %+v, want %d events", rep.Diff, len(want))
	}
	for i, w := range want {
		d := rep.Diff[i]
		if d.Event != w.event || render(d.Added) != w.added || render(d.Removed) != w.removed {
			t.Errorf("diff %d: event %s added %q removed %q; want %s %q %q", i, d.Event, render(d.Added), render(d.Removed), w.event, w.added, w.removed)
		}
	}
	// The same rule set against itself plans the same everywhere.
	same, err := replay.Run(context.Background(), replay.Options{Rules: rs, Against: writeRules(t, newRules)}, replay.Lines(strings.NewReader(history()), "h.jsonl", 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(same.Diff) != 0 {
		t.Errorf("identical rules differ: %+v", same.Diff)
	}
}

func TestReplayTextReport(t *testing.T) {
	t.Parallel()
	rs, old := writeRules(t, newRules), writeRules(t, oldRules)
	rep, err := replay.Run(context.Background(), replay.Options{Rules: rs, Against: old}, replay.Lines(strings.NewReader(history()), "h.jsonl", 0))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"replayed 7 events of 3 incidents: 3 evaluated, 2 stale, 1 thin (not evaluated: no incident data), 1 invalid\n",
		"  invalid h.jsonl:5: ",
		"raised-to-high        1  comment 1, tag 1\n",
		"1 rules matched nothing: never\n",
		"event e-2-1 incident 2: plan differs\n  + tag-vip tag tags=[vip-seen]\n  - tag-vip tag tags=[vip]\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestLinesErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", replay.MaxLine+1)
	var refs []string
	var last error
	for raw, err := range replay.Lines(strings.NewReader("{}\n\n{}\n"+long+"\n{}\n"), "f", 0) {
		if err != nil {
			last = err
			continue
		}
		refs = append(refs, raw.Ref)
	}
	if strings.Join(refs, ",") != "f:1,f:3" || last == nil || !strings.HasPrefix(last.Error(), "f:4: line longer") {
		t.Errorf("refs %v, error %v", refs, last)
	}
}
