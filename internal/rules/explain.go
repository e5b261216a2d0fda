package rules

import (
	"strings"

	"github.com/expr-lang/expr/vm"
)

// Explanation says, for one rule and one event, whether the rule matched and
// why. A rule whose condition was not evaluated has Skipped set (disabled,
// expired, not on the event's change type, or after a rule with stop matched)
// and no terms. Otherwise Terms holds the value of each operand of the
// condition's top-level && (or ||) chain, in order (the whole condition when
// it is not such a chain).
type Explanation struct {
	Rule    string `json:"rule"`
	Matched bool   `json:"matched"`
	// Skipped is why the condition was not evaluated; "" when it was.
	Skipped string `json:"skipped"`
	// Join is the operator between the terms: "&&", "||", or "" for one term.
	Join  string      `json:"join,omitempty"`
	Terms []TermValue `json:"terms"`
	// Error is the rule's run-time error for this event (the plan's).
	Error string `json:"error,omitempty"`
}

// TermValue is one term of a condition and its value for the event.
type TermValue struct {
	// Expr is the term's source, white space collapsed.
	Expr string `json:"expr"`
	// Value is the term's value (true or false for a well-formed condition);
	// nil when it failed at run time.
	Value any `json:"value"`
	// Detail says what decided the value: for any/all/none/one over a helper,
	// the items (`1 of 3 devices not in lists.redteam_devices:
	// ws-fin-014.contoso.com`); for a comparison, its operands' values
	// (`incident.severity is "medium"`); a run-time error. Empty when there
	// is nothing to add.
	Detail string `json:"detail"`
	// Reached is false for a term after the one that decided the chain
	// (false in an && chain, true in an || chain): evaluation stops there,
	// and the value is shown for information.
	Reached bool `json:"reached"`
}

// Explain evaluates the rules against one event exactly as Evaluate does and
// returns the plan, with an explanation for each rule (in order) for which
// want returns true (nil: every rule). Explaining costs more than evaluating
// (every term of every wanted rule is evaluated, with its details); Evaluate
// itself never pays for it.
func (rs *RuleSet) Explain(in Input, want func(*Rule) bool) (*Plan, []Explanation) {
	now := in.now()
	in.Now = now
	plan := rs.Evaluate(in)
	matched := map[string]bool{}
	stopper := ""
	for _, m := range plan.Matches {
		matched[m.Rule] = true
	}
	errs := map[string]string{}
	for _, e := range plan.Errors {
		errs[e.Rule] = e.Error
	}
	env := rs.env(in, now)
	m := rs.getVM()
	defer rs.vms.Put(m)
	var out []Explanation
	for _, r := range rs.rules {
		skip := r.skipReason(in.Event.Type, now)
		if skip == "" && stopper != "" {
			skip = "after " + stopper + " matched with stop: true"
		}
		if want == nil || want(r) {
			x := Explanation{Rule: r.ID, Matched: matched[r.ID], Skipped: skip, Terms: []TermValue{}, Error: errs[r.ID]}
			if skip == "" {
				env.Rule = r.info
				x.Join, x.Terms = rs.explainTerms(r, m, env)
			}
			out = append(out, x)
		}
		// Evaluate stops after a rule with stop whose condition held, even
		// when its actions then failed to render.
		condHeld := matched[r.ID] || (errs[r.ID] != "" && !strings.HasPrefix(errs[r.ID], "when: "))
		if skip == "" && r.Stop && condHeld {
			stopper = r.ID
		}
	}
	return plan, out
}

// explainTerms evaluates each term of a rule's condition.
func (rs *RuleSet) explainTerms(r *Rule, m *vm.VM, env *Env) (string, []TermValue) {
	terms, join := rs.termsOf(r)
	out := make([]TermValue, len(terms))
	decided := false
	for i, t := range terms {
		tv := TermValue{Expr: t.src, Reached: !decided}
		if t.prog == nil {
			tv.Detail = "not evaluated: " + t.err
			out[i] = tv
			continue
		}
		v, err := m.Run(t.prog, env)
		if err != nil {
			tv.Detail = "error: " + err.Error()
			out[i] = tv
			decided = decided || join != ""
			continue
		}
		tv.Value = v
		switch {
		case t.quant != nil:
			tv.Detail = t.quant.detail(m, env)
		case len(t.shown) > 0:
			tv.Detail = operandsDetail(t.shown, m, env)
		}
		if b, ok := v.(bool); ok && ((join == "&&" && !b) || (join == "||" && b)) {
			decided = true
		}
		out[i] = tv
	}
	return join, out
}

// Terms returns the sources of a rule's condition terms, as Explain reports
// them.
func (rs *RuleSet) Terms(r *Rule) []string {
	terms, _ := rs.termsOf(r)
	out := make([]string, len(terms))
	for i, t := range terms {
		out[i] = t.src
	}
	return out
}
