package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// check estimates a compiled expression of rule id and returns the problem
// when it is over the budget.
func (m *costModel) check(root ast.Node, text bool, id string) (costReport, *exprError) {
	r := m.estimate(root, text)
	if r.steps <= m.budget {
		return r, nil
	}
	what := "condition"
	if text {
		what = "template"
	}
	off := 0
	if r.worst.node != nil {
		off = r.worst.node.Location().From
	}
	return r, &exprError{off: off, msg: fmt.Sprintf("rule %q: %s may take up to %s on a maximal incident (%s); the limit is %s: %s",
		id, what, stepsText(r.steps), r.worst.describe(), stepsText(m.budget), r.worst.hint(m))}
}

// ruleCost is what the expressions of the rule being compiled cost.
type ruleCost struct {
	condition, templates float64
	over                 bool // an expression was over the budget alone
}

// checkRuleCost reports a rule whose condition and templates together are
// over the budget although each is under it, at the rule's id.
func (l *loader) checkRuleCost(c *compiler, raw *rawRule) bool {
	rc := c.ruleCost
	if c.cost == nil || rc.over || rc.condition+rc.templates <= c.cost.budget {
		return false
	}
	l.errorAt(raw.src.at(raw.idNode), "rule %q: its condition and templates together may take up to %s on a maximal incident (condition %s, templates %s); the limit is %s: make the costliest cheaper",
		raw.id, stepsText(rc.condition+rc.templates), stepsText(rc.condition), stepsText(rc.templates), stepsText(c.cost.budget))
	return true
}

// stepsText writes a number of steps with thousands separators.
func stepsText(f float64) string {
	if math.IsInf(f, 1) || f > 1e18 {
		return "an unbounded number of steps"
	}
	s := strconv.FormatInt(int64(math.Ceil(f)), 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if s == "1" {
		return "1 step"
	}
	return b.String() + " steps"
}

// bytesText writes a size for people: 64 bytes, 12 KiB, 1 MiB, 1.5 GiB.
func bytesText(f float64) string {
	one := func(f float64) string { return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") }
	switch {
	case math.IsInf(f, 1) || f > 1<<50:
		return "an unbounded size"
	case f >= 1<<30:
		return one(f/(1<<30)) + " GiB"
	case f >= 1<<20:
		return one(f/(1<<20)) + " MiB"
	case f >= 1<<10:
		return one(f/(1<<10)) + " KiB"
	}
	return strconv.Itoa(int(f)) + " bytes"
}

// measure estimates a checked expression of the rule being compiled, adds
// it to the rule's cost and returns the problem when it is over the budget
// alone.
func (c *compiler) measure(root ast.Node, text bool) *exprError {
	r, over := c.cost.check(root, text, c.rule)
	if text {
		c.ruleCost.templates += r.steps
	} else {
		c.ruleCost.condition += r.steps
	}
	if over != nil {
		c.ruleCost.over = true
	}
	return over
}

// describe says where the work of a site is: "any over .evidence inside all
// over incident.alerts", "contains reading up to 1 MiB of text inside ...".
func (s *site) describe() string {
	loops := strings.Join(s.loops, " inside ")
	switch {
	case s.op == unknownOp:
		return short(s.node) + ", which the estimate does not know"
	case s.op != "" && loops != "":
		return fmt.Sprintf("%s reading up to %s of text inside %s", s.op, bytesText(s.size), loops)
	case s.op != "":
		return fmt.Sprintf("%s reading up to %s of text", s.op, bytesText(s.size))
	case len(s.loops) > 1:
		return "nested " + loops
	case loops != "":
		return loops
	}
	return "the expression's own operations"
}

// hint says what to do about a site.
func (s *site) hint(m *costModel) string {
	switch {
	case s.op == unknownOp:
		return "it is newer than graphsoar's cost estimate; write it otherwise"
	case math.IsInf(s.steps, 1) || math.IsInf(s.size, 1):
		return "the size of what it builds has no bound before it runs (text or a list grown by reduce()); build it otherwise"
	case s.op == "" && len(s.loops) > 1:
		return "an inner loop runs again for every item of the loop around it; loop over a part of the outer item " +
			"(.evidence of an alert, not evidence(incident, TYPE)), or look values up in a list (x in lists.NAME takes constant time)"
	case s.op == "" && len(s.loops) == 1:
		return "the loop runs once per item, up to the bound of what it loops over; keep its body small"
	case s.op == "":
		return "make it simpler"
	case len(s.loops) > 0:
		return "the text is read again for every item of the loops around it; read it once, outside the loop, " +
			"or compare with ==, startsWith or endsWith, which read no more than the shorter side"
	}
	return fmt.Sprintf("it reads up to %s of text (the incident's texts are up to %s); read less, or test literals with ==, startsWith or endsWith",
		bytesText(s.size), bytesText(m.bytes))
}
