package ruletest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/ruletest"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const ruleFile = `
rules:
  - id: close-high
    order: 1
    when: incident.severity == "high" && (previous == nil || previous.severity != "high")
    actions:
      - set_status: resolved
      - comment: "{{ rule.id }} at {{ now() }}"
  - id: tag-all
    order: 2
    when: "true"
    actions:
      - tag: [seen]
`

func setup(t *testing.T, tests string) (*rules.RuleSet, string) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"r.yaml":                   ruleFile,
		"r_test.yaml":              tests,
		"testdata/ransomware.json": string(fixtures.Read("ransomware-created.json")),
	})
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs, dir
}

func TestRunPassingCases(t *testing.T) {
	t.Parallel()
	rs, dir := setup(t, `
tests:
  - name: full plan with a fixed now
    event: testdata/ransomware.json
    now: 2026-11-21T00:00:00Z
    expect:
      matches:
        - rule: close-high
          actions:
            - set_status: resolved
            - comment: "close-high at 2026-11-21T00:00:00Z"
        - tag-all
  - name: overridden property
    event: { file: testdata/ransomware.json, set: { severity: low } }
    expect:
      matches: [tag-all]
  - name: previous already high
    event: testdata/ransomware.json
    previous: testdata/ransomware.json
    expect:
      matches: [tag-all]
  - name: inline bare incident
    event: { id: "77", status: active, severity: high, createdDateTime: 2026-01-01T00:00:00Z, lastUpdateDateTime: 2026-01-01T00:00:00Z }
    expect:
      matches:
        - close-high
        - rule: tag-all
          actions: [{tag: seen}]
`)
	cases, err := ruletest.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 4 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, r := range ruletest.Run(rs, cases) {
		if !r.Pass {
			t.Errorf("%s (%s) failed:\n%s", r.Case.Name, r.Case.Pos, r.Diff)
		}
	}
}

func TestRunFailingCaseShowsDiff(t *testing.T) {
	t.Parallel()
	rs, dir := setup(t, `
tests:
  - name: wrong
    event: testdata/ransomware.json
    expect:
      matches:
        - rule: close-high
          actions:
            - set_status: inProgress
        - tag-all
        - missing-rule
`)
	cases, err := ruletest.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	r := ruletest.Run(rs, cases)[0]
	if r.Pass {
		t.Fatal("a wrong expectation passed")
	}
	for _, want := range []string{
		"    match close-high\n",
		`  -   set_status {status: "inProgress"}` + "\n",
		`  +   set_status {status: "resolved"}` + "\n",
		"    match tag-all\n",
		"  - match missing-rule\n",
	} {
		if !strings.Contains(r.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.Diff)
		}
	}
	if !strings.HasSuffix(r.Case.Pos, "r_test.yaml:2") {
		t.Errorf("position %q", r.Case.Pos)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"a_test.yaml": `
tests:
  - name: missing file
    event: testdata/nope.json
  - name: no event
    expect: { matches: [x] }
  - name: bad expected action
    event: { id: "1", status: active, severity: low, createdDateTime: 2026-01-01T00:00:00Z, lastUpdateDateTime: 2026-01-01T00:00:00Z }
    expect:
      matches:
        - rule: x
          actions: [{close: now}]
  - name: thin
    event: { specversion: "1.0", id: e, type: com.microsoft.graph.security.incident.updated, data: { id: "1" } }
`})
	_, err := ruletest.Load(dir, actions.Builtin())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"a_test.yaml:3:12: event: open testdata/nope.json",
		"a_test.yaml:4:5: event missing",
		`a_test.yaml:11:22: unknown action "close"`,
		"rule tests need the whole incident",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
