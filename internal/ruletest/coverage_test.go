package ruletest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/ruletest"
)

const coverageRules = `
rules:
  - id: high-active
    order: 10
    when: incident.severity == "high" && incident.status == "active"
    actions: [{tag: hot}]
  - id: vip
    order: 20
    when: '"vip" in incident.customTags || incident.assignedTo == "ceo@contoso.com"'
    actions: [{tag: vip}]
  - id: updates
    order: 30
    on: [updated]
    when: changed("severity")
    actions: [{tag: changed}]
  - id: always
    order: 40
    when: "true"
    actions: [{tag: seen}]
  - id: off
    order: 50
    enabled: false
    when: incident.severity == "low"
    actions: [{tag: off}]
`

const coverageCases = `
tests:
  - name: high and active
    event: {file: inc.json, set: {severity: high, status: active}}
    expect: {matches: [high-active, always]}
  - name: high and resolved
    event: {file: inc.json, set: {severity: high, status: resolved}}
    expect: {matches: [high-active, always]}
`

// incidentJSON is a created incident (as an envelope) without tags.
const incidentJSON = `{"specversion": "1.0", "id": "c1", "type": "com.microsoft.graph.security.incident.created",
 "tenantid": "t1", "data": {"id": "5", "tenantId": "t1", "status": "active", "severity": "low",
 "lastUpdateDateTime": "2026-11-20T10:00:00Z", "customTags": []}}`

func TestCoverageListsUntestedRulesAndTerms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, body := range map[string]string{"rules.yaml": coverageRules, "rules_test.yaml": coverageCases, "inc.json": incidentJSON} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := ruletest.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	results := ruletest.Run(rs, cases)
	// The second case expects a match that does not happen: coverage is
	// about what ran, whatever the verdicts.
	if !results[0].Pass || results[1].Pass {
		t.Fatalf("results %+v", results)
	}
	cov := ruletest.Measure(rs, cases)
	// Terms: high-active 2 (severity: true only; status: true and false),
	// vip 2 (both only false), updates 1 (never evaluated); always's
	// literal true is left out; off is disabled.
	if cov.Terms != 5 || cov.Covered != 1 {
		t.Errorf("terms %d covered %d, want 5 and 1", cov.Terms, cov.Covered)
	}
	var b strings.Builder
	if err := cov.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"coverage: 1 of 5 terms (20.0%) made both true and false; 1 of 4 rules not exercised\n",
		`rule high-active (` + filepath.Join(dir, "rules.yaml") + `:3:5): term 1 never false: incident.severity == "high"` + "\n",
		`rule vip (` + filepath.Join(dir, "rules.yaml") + `:7:5): no case matched it` + "\n",
		`term 1 never true: "vip" in incident.customTags` + "\n",
		`term 2 never true: incident.assignedTo == "ceo@contoso.com"` + "\n",
		"rule updates (" + filepath.Join(dir, "rules.yaml") + ":11:5): not exercised: no case evaluated its condition\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("coverage lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"term 2 never", "rule off", "rule always"} {
		if strings.Contains(out, "high-active ("+filepath.Join(dir, "rules.yaml")+":3:5): "+absent) || strings.Contains(out, absent+" (") {
			t.Errorf("coverage mentions %q:\n%s", absent, out)
		}
	}
	if p := cov.Percent(); p != 20 {
		t.Errorf("percent %v", p)
	}
}
