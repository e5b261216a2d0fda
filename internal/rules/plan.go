package rules

import "github.com/graphsoar/graphsoar/internal/actions"

// Plan is what the rules decided for one event: the matching rules in order,
// each with its actions and their rendered parameters. Rules that failed at
// run time are in Errors; they contribute no actions.
type Plan struct {
	Event    string      `json:"event,omitempty"`
	Incident string      `json:"incident"`
	Tenant   string      `json:"tenant"`
	Matches  []Match     `json:"matches"`
	Errors   []RuleError `json:"errors,omitempty"`
}

// Match is one matching rule and its actions.
type Match struct {
	Rule    string          `json:"rule"`
	Actions []PlannedAction `json:"actions"`
}

// PlannedAction is one action with its parameters after templating.
type PlannedAction struct {
	Type   string         `json:"type"`
	Params actions.Params `json:"params"`
	// Approval: the rule holds the action until a person approves it
	// (`approval: required`).
	Approval bool `json:"approval,omitempty"`
}

// RuleError is a rule that could not be evaluated for this event (a run-time
// error in its condition or templates, or a rendered parameter that is not
// valid). The other rules still ran.
type RuleError struct {
	Rule  string `json:"rule"`
	Error string `json:"error"`
}

// MatchedRules lists the ids of the matching rules in order.
func (p *Plan) MatchedRules() []string {
	out := make([]string, len(p.Matches))
	for i, m := range p.Matches {
		out[i] = m.Rule
	}
	return out
}

// ActionCount is the number of planned actions.
func (p *Plan) ActionCount() int {
	n := 0
	for _, m := range p.Matches {
		n += len(m.Actions)
	}
	return n
}
