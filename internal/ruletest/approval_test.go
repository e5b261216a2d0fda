package ruletest_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/ruletest"
)

// TestExpectedHold: a rule test says which actions the rule holds for
// approval, as the rule writes it; a hold the test does not expect (or one
// it expects and the rule lacks) fails the case with the difference.
func TestExpectedHold(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"r.yaml": `
rules:
  - id: escalate
    order: 1
    when: "true"
    actions:
      - tag: {tags: [vip], approval: required}
      - set_status: inProgress
`,
		"r_test.yaml": `
tests:
  - name: held as the rule says
    event: testdata/ransomware.json
    expect:
      matches:
        - rule: escalate
          actions:
            - tag: {tags: [vip], approval: required}
            - set_status: inProgress
  - name: a hold the test does not expect
    event: testdata/ransomware.json
    expect:
      matches:
        - rule: escalate
          actions:
            - tag: [vip]
            - set_status: {status: inProgress, approval: none}
`,
		"testdata/ransomware.json": string(fixtures.Read("ransomware-created.json")),
	})
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := ruletest.Load(filepath.Join(dir), actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	res := ruletest.Run(rs, cases)
	if len(res) != 2 || !res[0].Pass || res[1].Pass {
		t.Fatalf("results %+v", res)
	}
	if !strings.Contains(res[1].Diff, `+   tag {tags: ["vip"], approval: required}`) {
		t.Errorf("diff does not show the unexpected hold:\n%s", res[1].Diff)
	}
	if got := loadErrors(t, `
tests:
  - name: x
    event: testdata/ransomware-created.json
    expect:
      matches:
        - rule: escalate
          actions:
            - tag: {tags: [vip], approval: maybe}
`); len(got) != 1 || !strings.Contains(got[0], `tag: approval: "maybe" is not required or none`) {
		t.Errorf("load errors %q", got)
	}
}
