package replay

import (
	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// Report is what a replay found. Events counts every event read; of those,
// Invalid could not be decoded, Thin carried no incident, Stale were older
// than a version already handled, and Evaluated were evaluated.
type Report struct {
	Events    int       `json:"events"`
	Incidents int       `json:"incidents"`
	Evaluated int       `json:"evaluated"`
	Stale     int       `json:"stale"`
	Thin      int       `json:"thin"`
	Invalid   []Invalid `json:"invalid"`
	// Rules has one entry per rule of the replayed set, in evaluation order
	// (rules that matched nothing included).
	Rules []RuleCount `json:"rules"`
	// Diff lists, in event order, the events whose plan differs from the
	// Against rule set's; empty without one.
	Diff []Difference `json:"diff"`

	byID map[string]int
}

// Invalid is an event that could not be decoded.
type Invalid struct {
	Ref   string `json:"ref"`
	Error string `json:"error"`
}

// RuleCount is one rule's record over the replay: the events it matched, the
// actions it planned by type, and the events on which it failed at run time.
type RuleCount struct {
	Rule    string         `json:"rule"`
	Matches int            `json:"matches"`
	Actions map[string]int `json:"actions"`
	Errors  int            `json:"errors,omitempty"`
}

// Difference is an event whose plan differs between the two rule sets: the
// planned actions only the replayed set has (Added) and those only the
// Against set has (Removed).
type Difference struct {
	Event    string    `json:"event"`
	Incident string    `json:"incident"`
	Tenant   string    `json:"tenant,omitempty"`
	Added    []Planned `json:"added"`
	Removed  []Planned `json:"removed"`
}

// Planned is one planned action with its rule and parameters after
// templating.
type Planned struct {
	Rule   string         `json:"rule"`
	Type   string         `json:"type"`
	Params actions.Params `json:"params"`
}

func newReport(rs *rules.RuleSet) *Report {
	rep := &Report{Invalid: []Invalid{}, Diff: []Difference{}, byID: map[string]int{}}
	for i, r := range rs.Rules() {
		rep.Rules = append(rep.Rules, RuleCount{Rule: r.ID, Actions: map[string]int{}})
		rep.byID[r.ID] = i
	}
	return rep
}

// count adds a plan's matches and errors.
func (rep *Report) count(p *rules.Plan) {
	for _, m := range p.Matches {
		rc := &rep.Rules[rep.byID[m.Rule]]
		rc.Matches++
		for _, a := range m.Actions {
			rc.Actions[a.Type]++
		}
	}
	for _, e := range p.Errors {
		rep.Rules[rep.byID[e.Rule]].Errors++
	}
}
