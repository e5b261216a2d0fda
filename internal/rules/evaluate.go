package rules

import (
	"fmt"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// Input is what one evaluation looks at.
type Input struct {
	Event *incident.Event
	// Previous is the incident as last seen (nil on first sight).
	Previous *incident.Incident
	// Now is the evaluation time, for expires and now(); zero means time.Now().
	Now time.Time
}

// Evaluate runs the rules against one event and returns the plan. Rules run in
// order; disabled rules, expired rules and rules not triggered by the event's
// change type are skipped; a matching rule with stop ends the evaluation. A
// run-time error in one rule is recorded in Plan.Errors and the others still
// run. Evaluate writes nothing and is safe for concurrent use. The event must
// carry its incident (a thin event must be completed first).
func (rs *RuleSet) Evaluate(in Input) *Plan {
	ev := in.Event
	now := in.now()
	plan := &Plan{Event: ev.ID, Incident: ev.IncidentID, Tenant: ev.Tenant, Matches: []Match{}}
	env := rs.env(in, now)
	m := rs.getVM()
	defer rs.vms.Put(m)
	var facts *scratch
	if rs.index != nil {
		facts = rs.index.candidates(ev.Incident)
		defer rs.index.release(facts)
	}
	visit := func(i int) bool {
		r := rs.rules[i]
		if !r.runs(ev.Type, now) {
			return true
		}
		if facts != nil && !rs.index.can(facts, i) {
			return true
		}
		env.Rule = r.info
		out, err := m.Run(r.cond, env)
		if err != nil {
			plan.Errors = append(plan.Errors, RuleError{Rule: r.ID, Error: "when: " + err.Error()})
			return true
		}
		if matched, _ := out.(bool); !matched {
			return true
		}
		match := Match{Rule: r.ID, Actions: make([]PlannedAction, 0, len(r.actions))}
		var failed error
		for _, a := range r.actions {
			params, err := a.render(m, env)
			if err != nil {
				failed = fmt.Errorf("%s: %w", a.name, err)
				break
			}
			match.Actions = append(match.Actions, PlannedAction{Type: a.name, Params: params, Approval: a.approval})
		}
		if failed != nil {
			plan.Errors = append(plan.Errors, RuleError{Rule: r.ID, Error: failed.Error()})
		} else {
			plan.Matches = append(plan.Matches, match)
		}
		return !r.Stop // a matching rule with stop ends the evaluation
	}
	if facts != nil {
		facts.each(visit)
	} else {
		for i := range rs.rules {
			if !visit(i) {
				break
			}
		}
	}
	return plan
}

// now is the evaluation time: Now, or the current time.
func (in Input) now() time.Time {
	if in.Now.IsZero() {
		return time.Now()
	}
	return in.Now
}

// env is the expression environment of one evaluation (Rule is set per rule).
func (rs *RuleSet) env(in Input, now time.Time) *Env {
	ev := in.Event
	return &Env{
		Incident: ev.Incident,
		Previous: in.Previous,
		Event:    &EventInfo{Type: string(ev.Type), ID: ev.ID, Time: ev.Time, Tenant: ev.Tenant},
		Lists:    rs.lists,
		Changed:  changedFunc(rs.fields, ev.Incident, in.Previous),
		Now:      func() time.Time { return now },
	}
}

// runs reports whether a rule's condition is evaluated for an event of a
// change type at now: it is enabled, not expired, and on that change type.
func (r *Rule) runs(typ incident.ChangeType, now time.Time) bool {
	return r.Enabled && !r.expired(now) &&
		(typ != incident.Created || r.onCreated) && (typ != incident.Updated || r.onUpdated)
}

// skipReason says why a rule's condition is not evaluated for an event at
// now, or "" when it is: disabled, expired, or not on the change type.
func (r *Rule) skipReason(typ incident.ChangeType, now time.Time) string {
	switch {
	case !r.Enabled:
		return "disabled"
	case r.expired(now):
		return "expired at " + r.Expires.Format(time.RFC3339)
	case typ == incident.Created && !r.onCreated, typ == incident.Updated && !r.onUpdated:
		return "not on " + string(typ) + " events"
	}
	return ""
}

func (rs *RuleSet) getVM() *vm.VM {
	if m, ok := rs.vms.Get().(*vm.VM); ok {
		return m
	}
	return &vm.VM{MemoryBudget: memoryBudget}
}
