package ruletest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// Result is the outcome of one case.
type Result struct {
	Case *Case
	Pass bool
	// Diff shows expected ("-") against actual ("+") when the case failed.
	Diff string
	// Errors are the rule run-time errors of the evaluation, for context.
	Errors []rules.RuleError
}

// Run evaluates every case against the rule set.
func Run(rs *rules.RuleSet, cases []*Case) []Result {
	out := make([]Result, 0, len(cases))
	for _, c := range cases {
		plan := rs.Evaluate(rules.Input{Event: c.Event, Previous: c.Previous, Now: c.Now})
		want, got := c.expected(), actual(c, plan)
		r := Result{Case: c, Pass: want == got, Errors: plan.Errors}
		if !r.Pass {
			r.Diff = lineDiff(want, got)
		}
		out = append(out, r)
	}
	return out
}

func (c *Case) expected() string {
	var b strings.Builder
	for _, m := range c.Matches {
		b.WriteString("match " + m.Rule + "\n")
		for _, a := range m.Actions {
			b.WriteString("  " + renderAction(a.Type, a.Params, a.Approval) + "\n")
		}
	}
	for _, e := range sortedCopy(c.Errors) {
		b.WriteString("error " + e + "\n")
	}
	return b.String()
}

// actual renders the plan like expected; a rule's actions are shown when the
// case checks that rule's actions.
func actual(c *Case, p *rules.Plan) string {
	checks := map[string]bool{}
	for _, m := range c.Matches {
		if m.Actions != nil {
			checks[m.Rule] = true
		}
	}
	var b strings.Builder
	for _, m := range p.Matches {
		b.WriteString("match " + m.Rule + "\n")
		if !checks[m.Rule] {
			continue
		}
		for _, a := range m.Actions {
			b.WriteString("  " + renderAction(a.Type, a.Params, a.Approval) + "\n")
		}
	}
	var errs []string
	for _, e := range p.Errors {
		errs = append(errs, e.Rule)
	}
	for _, e := range sortedCopy(errs) {
		b.WriteString("error " + e + "\n")
	}
	return b.String()
}

// renderAction writes an action as `type {param: value, ...}` with sorted
// keys, and `approval: required` last when it is held.
func renderAction(typ string, p actions.Params, held bool) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		switch v := p[k].(type) {
		case []string:
			q := make([]string, len(v))
			for j, s := range v {
				q[j] = fmt.Sprintf("%q", s)
			}
			parts[i] = k + ": [" + strings.Join(q, ", ") + "]"
		default:
			parts[i] = fmt.Sprintf("%s: %q", k, v)
		}
	}
	if held {
		parts = append(parts, "approval: required")
	}
	return typ + " {" + strings.Join(parts, ", ") + "}"
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// lineDiff is a line-based diff of a against b: common lines indented, lines
// only in a with "-", lines only in b with "+".
func lineDiff(a, b string) string {
	x, y := splitLines(a), splitLines(b)
	// lcs[i][j] is the length of the longest common subsequence of x[i:], y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	// Walk the common subsequence; between two common lines, write what was
	// removed, then what was added.
	var out strings.Builder
	var del, add []string
	flush := func() {
		for _, l := range del {
			out.WriteString("  - " + l + "\n")
		}
		for _, l := range add {
			out.WriteString("  + " + l + "\n")
		}
		del, add = del[:0], add[:0]
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			flush()
			out.WriteString("    " + x[i] + "\n")
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			del = append(del, x[i])
			i++
		default:
			add = append(add, y[j])
			j++
		}
	}
	flush()
	return out.String()
}

func splitLines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
