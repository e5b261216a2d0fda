// Package rules loads, compiles and evaluates graphsoar playbooks: YAML rule
// files whose conditions and templates are expr-language expressions over a
// Defender XDR incident. Evaluation yields a Plan (the actions of the matching
// rules, with their parameters rendered); it writes nothing, so it is pure and
// safe to run anywhere (validate, eval, test, the worker).
package rules

import (
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// RuleSet is an immutable, compiled set of rules and lists. It is safe for
// concurrent use.
type RuleSet struct {
	rules      []*Rule // by Order
	lists      Lists
	warnings   []Warning // those that do not depend on the time
	files      []string
	registry   *actions.Registry
	fields     map[string]int
	index      *index
	vms        sync.Pool
	prev       previousUse
	prevFields []string // sorted names of prev.fields
	project    func(*incident.Incident) *incident.Incident
}

// Remember returns what the worker keeps of an incident as the next event's
// previous: the id and the properties the rules read through previous and
// changed() (the whole incident when a rule uses previous whole), or nil when
// no rule reads previous.
func (rs *RuleSet) Remember(inc *incident.Incident) *incident.Incident {
	if rs.project == nil {
		return nil
	}
	return rs.project(inc)
}

// PreviousFields returns the incident properties the rules read through
// previous and changed(), or whole when a rule uses previous otherwise (as an
// argument to a helper, say): what the worker must remember of each incident.
func (rs *RuleSet) PreviousFields() (fields []string, whole bool) {
	return rs.prevFields, rs.prev.whole
}

// Rule is one compiled rule.
type Rule struct {
	ID          string
	Description string
	Order       int
	Enabled     bool
	Expires     time.Time // zero: never
	When        string
	Stop        bool
	Pos         Pos // of the rule in its file
	idPos       Pos // of its id's value
	expiresPos  Pos // of its expires value
	onCreated   bool
	onUpdated   bool
	info        *RuleInfo
	cond        *vm.Program
	actions     []*ruleAction
	clauses     []clause // the prefilter's analysis of When
	termsOnce   sync.Once
	terms       []*term // compiled by termsOf, for explain and coverage
	termOp      string
}

// On returns the change types the rule runs on.
func (r *Rule) On() []incident.ChangeType {
	var out []incident.ChangeType
	if r.onCreated {
		out = append(out, incident.Created)
	}
	if r.onUpdated {
		out = append(out, incident.Updated)
	}
	return out
}

// Actions returns the names of the rule's actions, in order.
func (r *Rule) Actions() []string {
	out := make([]string, len(r.actions))
	for i, a := range r.actions {
		out[i] = a.name
	}
	return out
}

// ruleAction is one compiled action of a rule.
type ruleAction struct {
	name   string
	spec   actions.Spec
	params []*ruleParam
	// static holds the checked parameters when none has a template.
	static actions.Params
	// approval: the action is held until a person approves it.
	approval bool
}

// ruleParam is one compiled parameter.
type ruleParam struct {
	param actions.Param
	items []*tmpl // one for a scalar; one per item for a YAML sequence
	seq   bool    // given as a YAML sequence
}

// Rules returns the rules in evaluation order (disabled ones included).
func (rs *RuleSet) Rules() []*Rule { return rs.rules }

// Rule returns the rule with the given id.
func (rs *RuleSet) Rule(id string) (*Rule, bool) {
	for _, r := range rs.rules {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// Lists returns the named lists. The caller must not modify them.
func (rs *RuleSet) Lists() Lists { return rs.lists }

// Files returns the rule files the set was loaded from, as named in messages.
func (rs *RuleSet) Files() []string { return rs.files }

// Registry returns the action catalogue the rules were checked against.
func (rs *RuleSet) Registry() *actions.Registry { return rs.registry }
