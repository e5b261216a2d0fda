package rules_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

func event(t testing.TB, name string) *incident.Event {
	t.Helper()
	ev, err := incident.Decode(fixtures.Read(name))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// fullFixtures names the embedded fixtures that are whole incidents, the
// events the golden, explain, generator and benchmark tests all run over.
func fullFixtures() []string {
	return []string{"ransomware-created.json", "ransomware-updated.json", "redteam-created.json", "phishing-created.json", "bare-incident.json"}
}

func matched(p *rules.Plan) []string { return p.MatchedRules() }

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestEvaluateOrderStopEnabledExpiresOn(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{
		"b.yaml": `
rules:
  - {id: second, order: 20, when: "true", actions: [{tag: b}]}
  - {id: disabled, order: 15, enabled: false, when: "true", actions: [{tag: d}]}
  - {id: expired, order: 16, expires: 2026-11-01, when: "true", actions: [{tag: e}]}
  - {id: not-yet-expired, order: 17, expires: "2027-01-01T00:00:00Z", when: "true", actions: [{tag: n}]}
  - {id: updates-only, order: 18, on: updated, when: "true", actions: [{tag: u}]}
  - {id: stopper, order: 30, when: 'incident.severity == "high"', stop: true}
  - {id: after-stop, order: 40, when: "true", actions: [{tag: z}]}
`,
		"a.yaml": `
rules:
  - {id: first, order: 10, when: "true", actions: [{tag: a}]}
`,
	})
	got := matched(rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0}))
	want := []string{"first", "not-yet-expired", "second", "stopper"}
	if !slices.Equal(got, want) {
		t.Errorf("created, high: matched %v, want %v", got, want)
	}
	got = matched(rs.Evaluate(rules.Input{Event: event(t, "phishing-created.json"), Now: t0}))
	want = []string{"first", "not-yet-expired", "second", "after-stop"}
	if !slices.Equal(got, want) {
		t.Errorf("created, medium (no stop): matched %v, want %v", got, want)
	}
	got = matched(rs.Evaluate(rules.Input{Event: event(t, "bare-incident.json"), Now: t0}))
	if !slices.Contains(got, "updates-only") {
		t.Errorf("updated event: matched %v, want updates-only among them", got)
	}
	got = matched(rs.Evaluate(rules.Input{Event: event(t, "phishing-created.json"), Now: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)}))
	if slices.Contains(got, "not-yet-expired") {
		t.Error("a rule past its expiry ran")
	}
}

func TestEvaluateRuntimeErrorIsolated(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
rules:
  - {id: nil-previous, order: 1, when: 'previous.severity == "low"', actions: [{tag: a}]}
  - {id: bad-render, order: 2, when: "true", actions: [{set_status: "{{ incident.severity }}"}, {tag: never}]}
  - {id: memory, order: 3, when: 'len(map(1..10000000, {#})) > 0', actions: [{tag: m}]}
  - {id: fine, order: 4, when: "true", actions: [{tag: ok}]}
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if got := matched(p); !slices.Equal(got, []string{"fine"}) {
		t.Errorf("matched %v, want only fine", got)
	}
	errs := map[string]string{}
	for _, e := range p.Errors {
		errs[e.Rule] = e.Error
	}
	for rule, want := range map[string]string{
		"nil-previous": "when: ",
		"bad-render":   `set_status: status: "high" is not one of active, inProgress, resolved`,
		"memory":       "memory budget exceeded",
	} {
		if !strings.Contains(errs[rule], want) {
			t.Errorf("error of %s = %q, want it to contain %q", rule, errs[rule], want)
		}
	}
}

func TestEvaluateTemplates(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
lists:
  bad: [9F2C7E1B3A4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7]
rules:
  - id: t
    description: template test
    order: 1
    when: any(fileHashes(incident), {# in lists.bad})
    actions:
      - block_file_hash: { hashes: "{{ fileHashes(incident) }}" }
      - tag: ["fixed", "{{ map(devices(incident), {.rbacGroupName}) }}", "sev-{{ incident.severity }}"]
      - comment: "{{ rule.id }}/{{ rule.description }}: {{ len(incident.alerts) }} alerts, {{ devices(incident)[0].osBuild }}, {{ incident.alerts[0].mitreTechniques }}, {{ incident.createdDateTime }}, {{ event.type }} {{ event.tenant }}, {{ now() }}, {{ 1.5 }}, {{ true }}, {{ nil }}."
      - assign: "{{ users(incident)[0].userPrincipalName }}"
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if len(p.Errors) > 0 {
		t.Fatal(p.Errors)
	}
	acts := p.Matches[0].Actions
	if got := acts[0].Params["hashes"]; !reflect.DeepEqual(got, []string{"9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"}) {
		t.Errorf("a whole-template list must stay a list: %#v", got)
	}
	if got := acts[1].Params["tags"]; !reflect.DeepEqual(got, []string{"fixed", "Finance", "sev-high"}) {
		t.Errorf("sequence items: %#v", got)
	}
	wantComment := "t/template test: 2 alerts, 22631, T1486, 2026-11-20T08:01:12Z, created 3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71, 2026-11-21T12:00:00Z, 1.5, true, ."
	if got := acts[2].Params["comment"]; got != wantComment {
		t.Errorf("comment\n got %q\nwant %q", got, wantComment)
	}
	if got := acts[3].Params["assignedTo"]; got != "ada@contoso.com" {
		t.Errorf("assign %q", got)
	}
}

// A list template that finds nothing leaves its action nothing to do: it is
// no rule error (which would dead-letter the event), and a literal empty list
// stays a load error.
func TestEvaluateEmptyListTemplate(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
lists:
  bad: [0000000000000000000000000000000000000000000000000000000000000000]
rules:
  - id: t
    order: 1
    when: "true"
    actions:
      - block_file_hash: { hashes: "{{ filter(fileHashes(incident), {# in lists.bad}) }}" }
      - tag: "{{ filter(incident.customTags, {# == 'none'}) }}"
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if len(p.Errors) > 0 || len(p.Matches) != 1 {
		t.Fatalf("errors %v, matches %v", p.Errors, matched(p))
	}
	if got := p.Matches[0].Actions[0].Params["hashes"]; !reflect.DeepEqual(got, []string{}) {
		t.Errorf("hashes %#v, want an empty list", got)
	}
	_, err := rules.LoadFS(fstest.MapFS{"b.yaml": {Data: []byte("rules:\n  - {id: u, order: 1, when: 'true', actions: [{block_file_hash: {hashes: []}}]}\n")}}, ".", "rules", actions.Builtin())
	if err == nil || !strings.Contains(err.Error(), "hashes: empty list") {
		t.Errorf("a literal empty list: %v", err)
	}
}

// A block scalar ends in a newline: "{{ expr }}\n" is still one typed
// template (a list stays a list), not text.
func TestEvaluateBlockScalarTemplate(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
rules:
  - id: t
    order: 1
    when: "true"
    actions:
      - block_file_hash:
          hashes: |
            {{ fileHashes(incident) }}
      - tag: >
          {{ ["a", "b"] }}
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if len(p.Errors) > 0 || len(p.Matches) != 1 {
		t.Fatalf("errors %v, matches %v", p.Errors, matched(p))
	}
	if got := p.Matches[0].Actions[0].Params["hashes"]; !reflect.DeepEqual(got, []string{"9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"}) {
		t.Errorf("hashes %#v", got)
	}
	if got := p.Matches[0].Actions[1].Params["tags"]; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("tags %#v", got)
	}
}

// A value whose type is known only at run time (an element of a list of
// any) that is not text fails its rule, never rendering Go's struct dump.
func TestEvaluateTemplateOfNoTextFailsAtRunTime(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
rules:
  - {id: dump, order: 1, when: "true", actions: [{comment: "alerts {{ [incident.alerts[0], 1][0] }}"}]}
  - {id: fine, order: 2, when: "true", actions: [{comment: "severity {{ incident.severity }}"}]}
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if len(p.Errors) != 1 || p.Errors[0].Rule != "dump" || !strings.Contains(p.Errors[0].Error, "not text") {
		t.Errorf("errors %+v", p.Errors)
	}
	if got := matched(p); !slices.Equal(got, []string{"fine"}) {
		t.Errorf("matched %v", got)
	}
}

func TestEvaluateChangedAndPrevious(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
rules:
  - {id: status-changed, order: 1, when: 'changed("status")', actions: [{tag: s}]}
  - {id: tags-changed, order: 2, when: 'changed("customTags")', actions: [{tag: t}]}
  - {id: severity-changed, order: 3, when: 'changed("severity")', actions: [{tag: v}]}
  - {id: alerts-changed, order: 4, when: 'changed("alerts")', actions: [{tag: a}]}
  - {id: first-sight, order: 5, when: 'previous == nil', actions: [{tag: f}]}
  - {id: evidence, order: 6, when: 'len(evidence(incident, "userEvidence")) == 1 && len(evidence(previous, "fileEvidence")) == 1', actions: [{tag: e}]}
`})
	cur := event(t, "ransomware-updated.json")
	prev := event(t, "ransomware-created.json").Incident
	got := matched(rs.Evaluate(rules.Input{Event: cur, Previous: prev, Now: t0}))
	if !slices.Equal(got, []string{"status-changed", "tags-changed", "evidence"}) {
		t.Errorf("with previous: matched %v", got)
	}
	got = matched(rs.Evaluate(rules.Input{Event: cur, Now: t0}))
	if !slices.Equal(got, []string{"first-sight"}) {
		t.Errorf("without previous: matched %v", got)
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	t.Parallel()
	rs, err := rules.Load("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"ransomware-created.json", "redteam-created.json", "phishing-created.json"}
	want := map[string][]string{}
	for _, n := range names {
		want[n] = matched(rs.Evaluate(rules.Input{Event: event(t, n), Now: t0}))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := names[(g+i)%len(names)]
				if got := matched(rs.Evaluate(rules.Input{Event: event(t, n), Now: t0})); !slices.Equal(got, want[n]) {
					errs <- fmt.Sprintf("%s: %v, want %v", n, got, want[n])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestEvaluateOptionalChainsAreNilSafe(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
rules:
  - {id: eq, order: 1, when: 'previous?.severity == "low" || previous?.severity != "medium"', actions: [{tag: a}]}
  - {id: in, order: 2, when: 'previous?.severity in ["low"] || "x" in previous?.customTags', actions: [{tag: b}]}
  - {id: contains, order: 3, when: 'previous?.displayName contains "x"', actions: [{tag: c}]}
  - {id: nil-eq, order: 4, when: 'previous?.severity == nil', actions: [{tag: d}]}
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if got := matched(p); !slices.Equal(got, []string{"eq", "nil-eq"}) {
		t.Errorf("matched %v, want [eq nil-eq]", got)
	}
	for _, e := range p.Errors {
		if e.Rule != "contains" {
			t.Errorf("rule %s failed on a nil previous: %s", e.Rule, e.Error)
		}
	}
}

func TestPreviousFields(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		when   string
		fields []string
		whole  bool
	}{
		{`incident.severity == "high"`, nil, false},
		{`previous?.severity == "low" && changed("status")`, []string{"severity", "status"}, false},
		{`previous != nil && previous.assignedTo == ""`, []string{"assignedTo"}, false},
		{`nil == previous || len(devices(previous)) > 0`, nil, true},
		{`previous.alerts[0].title == "x"`, []string{"alerts"}, false},
	} {
		rs := mustLoad(t, map[string]string{"a.yaml": "rules:\n  - {id: r, order: 1, when: '" + strings.ReplaceAll(tt.when, "'", "''") + "', stop: true}\n"})
		fields, whole := rs.PreviousFields()
		if !slices.Equal(fields, tt.fields) || whole != tt.whole {
			t.Errorf("%s: fields %v whole %v, want %v %v", tt.when, fields, whole, tt.fields, tt.whole)
		}
	}
	rs, err := rules.Load("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	if f, whole := rs.PreviousFields(); !slices.Equal(f, []string{"severity"}) || whole {
		t.Errorf("starter rules read previous %v (whole %v)", f, whole)
	}
}
