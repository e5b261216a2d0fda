package replay

import (
	"encoding/json"

	"github.com/graphsoar/graphsoar/internal/rules"
)

// diff compares the planned actions of one event under the old and the new
// rule set, as multisets of (rule, type, parameters): what only the new plan
// has is added, what only the old has is removed, each in plan order. ok is
// false when the plans plan the same actions.
func diff(old, cur *rules.Plan) (Difference, bool) {
	o, n := flatten(old), flatten(cur)
	added, removed := minus(n, o), minus(o, n)
	if len(added) == 0 && len(removed) == 0 {
		return Difference{}, false
	}
	return Difference{Event: cur.Event, Incident: cur.Incident, Tenant: cur.Tenant,
		Added: orEmpty(added), Removed: orEmpty(removed)}, true
}

type keyed struct {
	Planned
	key string
}

// minus is what a has more than b, as multisets of keys, in a's order.
func minus(a, b []keyed) []Planned {
	count := map[string]int{}
	for _, p := range b {
		count[p.key]++
	}
	var out []Planned
	for _, p := range a {
		if count[p.key] > 0 {
			count[p.key]--
			continue
		}
		out = append(out, p.Planned)
	}
	return out
}

// flatten lists a plan's actions with a key that identifies rule, type and
// parameters (encoding/json writes map keys in order, so equal parameters
// give equal keys).
func flatten(p *rules.Plan) []keyed {
	var out []keyed
	for _, m := range p.Matches {
		for _, a := range m.Actions {
			params, _ := json.Marshal(a.Params)
			out = append(out, keyed{Planned: Planned{Rule: m.Rule, Type: a.Type, Params: a.Params},
				key: m.Rule + "\x00" + a.Type + "\x00" + string(params)})
		}
	}
	return out
}

func orEmpty(p []Planned) []Planned {
	if p == nil {
		return []Planned{}
	}
	return p
}
