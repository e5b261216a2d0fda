package rules

import (
	"fmt"

	"github.com/expr-lang/expr/vm"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// render evaluates an action's parameters for one event and checks them.
func (a *ruleAction) render(m *vm.VM, env *Env) (actions.Params, error) {
	if a.static != nil {
		return a.static, nil
	}
	params, err := a.renderWith(m, env)
	if err != nil {
		return nil, err
	}
	if err := a.spec.CheckRendered(params); err != nil {
		return nil, err
	}
	return params, nil
}

func (a *ruleAction) renderWith(m *vm.VM, env *Env) (actions.Params, error) {
	params := make(actions.Params, len(a.params))
	for _, rp := range a.params {
		v, err := rp.render(m, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rp.param.Name, err)
		}
		params[rp.param.Name] = v
	}
	return params, nil
}

func (rp *ruleParam) render(m *vm.VM, env *Env) (any, error) {
	if rp.param.Kind == actions.String {
		t := rp.items[0]
		v, err := t.render(m, env)
		if err != nil {
			return nil, err
		}
		return format(v)
	}
	out := []string{}
	for _, t := range rp.items {
		v, err := t.render(m, env)
		if err != nil {
			return nil, err
		}
		if t.whole == nil {
			out = append(out, v.(string))
			continue
		}
		items, err := toList(v)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}
