package actions

import "fmt"

// Planned is one action of a plan: the rule that asked for it, the action's
// name and its rendered parameters.
type Planned struct {
	Rule   string
	Type   string
	Params Params
}

// Operations are the writes a plan asks for on one incident: the desired state
// of the Patcher actions (one PATCH at most) and the Effects of the Effector
// actions, in plan order.
type Operations struct {
	Desired Desired
	Effects []Effect
}

// Operations turns planned actions into writes. It fails only on an action the
// registry does not know, which a rule set loaded with this registry never has.
func (r *Registry) Operations(t Target, planned []Planned) (Operations, error) {
	var ops Operations
	for _, p := range planned {
		a, ok := r.Lookup(p.Type)
		if !ok {
			return Operations{}, fmt.Errorf("rule %s: unknown action %q", p.Rule, p.Type)
		}
		switch a := a.(type) {
		case Patcher:
			a.Desire(&ops.Desired, p.Rule, p.Params)
		case Effector:
			ops.Effects = append(ops.Effects, a.Effects(t, p.Rule, p.Params)...)
		}
	}
	return ops, nil
}

// Desire returns the state one Patcher action asks for on its own, or nil
// for an Effector.
func (r *Registry) Desire(p Planned) *Desired {
	a, ok := r.Lookup(p.Type)
	if !ok {
		return nil
	}
	pa, ok := a.(Patcher)
	if !ok {
		return nil
	}
	d := &Desired{}
	pa.Desire(d, p.Rule, p.Params)
	return d
}

// Fields lists the properties one Patcher action sets, for reporting which
// planned action a PATCH carried out.
func (r *Registry) Fields(p Planned) []Field {
	d := r.Desire(p)
	if d == nil {
		return nil
	}
	var out []Field
	for _, f := range []Field{FieldClassification, FieldDetermination, FieldStatus, FieldAssignedTo} {
		if _, ok := d.values[f]; ok {
			out = append(out, f)
		}
	}
	if len(d.tags) > 0 {
		out = append(out, FieldCustomTags)
	}
	return out
}
