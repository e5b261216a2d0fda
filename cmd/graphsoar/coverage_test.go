package main

import (
	"strings"
	"testing"
)

func TestCoverageCommand(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"r.yaml": `
rules:
  - id: high
    order: 1
    when: incident.severity == "high" && incident.status == "active"
    actions: [{tag: hot}]
  - id: never-tested
    order: 2
    on: [created]
    when: incident.classification == "truePositive"
    actions: [{tag: moved}]
`,
		"inc.json": incidentLine("9", "high", "ws-1.contoso.com"),
		"r_test.yaml": `
tests:
  - name: active high
    event: inc.json
    expect: {matches: [high]}
  - name: resolved high
    event: {file: inc.json, set: {status: resolved}}
    expect: {matches: []}
`,
	})
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--coverage"}, 0, []string{"ok    2 rule tests passed\n", "coverage: 1 of 3 terms (33.3%) made both true and false; 1 of 2 rules not exercised\n",
			`): term 1 never false: incident.severity == "high"`, "rule never-tested (", "): not exercised: no case evaluated its condition"}},
		{[]string{"--min-coverage", "30"}, 0, []string{"coverage: 1 of 3 terms (33.3%)"}},
		{[]string{"--min-coverage", "50"}, 1, []string{"coverage: 1 of 3 terms (33.3%)"}},
		{nil, 0, []string{"ok    2 rule tests passed\n"}},
	}
	for _, tt := range tests {
		r := cli(t, nil, "", append([]string{"test", "--rules", dir}, tt.args...)...)
		if r.code != tt.code {
			t.Errorf("%v: code %d, want %d; %s %s", tt.args, r.code, tt.code, r.out, r.err)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, r.out)
			}
		}
		if tt.args == nil && strings.Contains(r.out, "coverage") {
			t.Errorf("coverage without --coverage:\n%s", r.out)
		}
		if tt.code == 1 && !strings.Contains(r.err, "coverage 33.3% is below --min-coverage 50%") {
			t.Errorf("stderr %q", r.err)
		}
	}
}
