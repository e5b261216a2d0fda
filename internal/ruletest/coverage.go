package ruletest

import (
	"fmt"
	"io"
	"strings"

	"github.com/graphsoar/graphsoar/internal/rules"
)

// Coverage is what a run of rule tests exercised, measured with the terms
// explain defines: the operands of each condition's top-level && (or ||).
//
// A rule is exercised when at least one case evaluated its condition (it
// matched, or its condition was false or failed): a case that skips it
// (disabled, expired, not on the change type, after a stop) does not count.
// A term is covered when the cases made it true at least once and false at
// least once, counting only cases that reached it (a term after the one that
// decided its chain is not reached). Percent is 100 × covered terms / terms,
// over the terms of enabled rules, literal true and false terms left out
// (a condition `true` can never be false); 100 when there are none.
type Coverage struct {
	Rules   []RuleCoverage
	Terms   int // terms counted
	Covered int // terms made both true and false
}

// RuleCoverage is one enabled rule's record.
type RuleCoverage struct {
	Rule      string
	Pos       string // file:line:col of the rule
	Evaluated int    // cases that evaluated its condition
	Matched   int    // cases it matched
	Terms     []TermCoverage
}

// TermCoverage counts the cases that made a term true and false.
type TermCoverage struct {
	Expr        string
	True, False int
	Constant    bool // a literal true or false: not counted
}

// Measure runs every case's event through the rules with explanation and
// returns what they exercised.
func Measure(rs *rules.RuleSet, cases []*Case) *Coverage {
	cov := &Coverage{}
	index := map[string]int{}
	for _, r := range rs.Rules() {
		if !r.Enabled {
			continue
		}
		index[r.ID] = len(cov.Rules)
		cov.Rules = append(cov.Rules, RuleCoverage{Rule: r.ID, Pos: r.Pos.String()})
	}
	for _, c := range cases {
		_, xs := rs.Explain(rules.Input{Event: c.Event, Previous: c.Previous, Now: c.Now}, nil)
		for _, x := range xs {
			i, ok := index[x.Rule]
			if !ok || x.Skipped != "" {
				continue
			}
			rc := &cov.Rules[i]
			rc.Evaluated++
			if x.Matched {
				rc.Matched++
			}
			if rc.Terms == nil {
				for _, t := range x.Terms {
					rc.Terms = append(rc.Terms, TermCoverage{Expr: t.Expr, Constant: t.Expr == "true" || t.Expr == "false"})
				}
			}
			for j, t := range x.Terms {
				if j >= len(rc.Terms) || !t.Reached {
					continue
				}
				switch t.Value {
				case true:
					rc.Terms[j].True++
				case false:
					rc.Terms[j].False++
				}
			}
		}
	}
	for _, r := range rs.Rules() {
		i, ok := index[r.ID]
		if !ok {
			continue
		}
		rc := &cov.Rules[i]
		if rc.Terms == nil {
			// Never evaluated: its terms count, uncovered.
			for _, t := range rs.Terms(r) {
				rc.Terms = append(rc.Terms, TermCoverage{Expr: t, Constant: t == "true" || t == "false"})
			}
		}
		for _, t := range rc.Terms {
			if t.Constant {
				continue
			}
			cov.Terms++
			if t.True > 0 && t.False > 0 {
				cov.Covered++
			}
		}
	}
	return cov
}

// Percent is 100 × Covered / Terms, or 100 when no term is counted.
func (c *Coverage) Percent() float64 {
	if c.Terms == 0 {
		return 100
	}
	return 100 * float64(c.Covered) / float64(c.Terms)
}

// WriteText writes the summary and what no case exercised:
//
//	coverage: 5 of 8 terms (62.5%) made both true and false; 1 of 4 rules not exercised
//	  rule flag-vip (rules/vip.yaml:3:5): not exercised: no case evaluated its condition
//	  rule route (rules/route.yaml:9:5): term 2 never true: any(incident.alerts, {...})
func (c *Coverage) WriteText(w io.Writer) error {
	var b strings.Builder
	idle := 0
	for _, rc := range c.Rules {
		if rc.Evaluated == 0 {
			idle++
		}
	}
	fmt.Fprintf(&b, "coverage: %d of %d terms (%.1f%%) made both true and false; %d of %d rules not exercised\n",
		c.Covered, c.Terms, c.Percent(), idle, len(c.Rules))
	for _, rc := range c.Rules {
		if rc.Evaluated == 0 {
			fmt.Fprintf(&b, "  rule %s (%s): not exercised: no case evaluated its condition\n", rc.Rule, rc.Pos)
			continue
		}
		if rc.Matched == 0 {
			fmt.Fprintf(&b, "  rule %s (%s): no case matched it\n", rc.Rule, rc.Pos)
		}
		for j, t := range rc.Terms {
			var never []string
			if t.Constant {
				continue
			}
			if t.True == 0 {
				never = append(never, "true")
			}
			if t.False == 0 {
				never = append(never, "false")
			}
			if len(never) > 0 {
				fmt.Fprintf(&b, "  rule %s (%s): term %d never %s: %s\n", rc.Rule, rc.Pos, j+1, strings.Join(never, " nor "), t.Expr)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
