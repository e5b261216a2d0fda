package rules_test

import (
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/rules"
)

// TestApprovalRequiredHoldsTheAction: `approval: required` in an action's
// object form marks that action of the plan, and only it; its parameters
// stay as they were (approval is not one of them).
func TestApprovalRequiredHoldsTheAction(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{"a.yaml": `
rules:
  - id: a
    order: 1
    when: 'true'
    actions:
      - tag: {tags: [vip], approval: required}
      - comment: {comment: "held? no", approval: none}
      - set_status: resolved
`})
	p := rs.Evaluate(rules.Input{Event: event(t, "ransomware-created.json"), Now: t0})
	if len(p.Matches) != 1 {
		t.Fatalf("matches %+v", p.Matches)
	}
	var got []bool
	for _, a := range p.Matches[0].Actions {
		got = append(got, a.Approval)
		if _, ok := a.Params["approval"]; ok {
			t.Errorf("%s: approval became a parameter: %v", a.Type, a.Params)
		}
	}
	if len(got) != 3 || !got[0] || got[1] || got[2] {
		t.Errorf("approval flags %v, want [true false false]", got)
	}
}

func TestApprovalValueIsChecked(t *testing.T) {
	t.Parallel()
	_, err := load(t, map[string]string{"a.yaml": `
rules:
  - id: a
    order: 1
    when: 'true'
    actions:
      - tag: {tags: [vip], approval: yes}
`})
	want := `rules/a.yaml:6:38: tag: approval: "yes" is not required or none`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %s", err, want)
	}
}
