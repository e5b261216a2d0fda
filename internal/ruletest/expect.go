package ruletest

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// expectedMatch reads one item of expect.matches: a rule id, or
// {rule: ID, actions: [...]} with actions written as in rule files.
func (f *fileLoader) expectedMatch(at *yaml.Node) (ExpectedMatch, bool) {
	n := resolve(at)
	if n.Kind == yaml.ScalarNode && !isNull(n) && n.Value != "" {
		return ExpectedMatch{Rule: n.Value}, true
	}
	if n.Kind != yaml.MappingNode {
		f.errorf(at, "expect.matches: want a rule id or {rule: ID, actions: [...]}, not %s", describe(n))
		return ExpectedMatch{}, false
	}
	before := len(f.errs)
	var m ExpectedMatch
	got, suggested := f.fields(n, "rule", "actions")
	if p, ok := got["rule"]; ok {
		if v := resolve(p.val); v.Kind == yaml.ScalarNode && !isNull(v) && v.Value != "" {
			m.Rule = v.Value
		} else {
			f.errorf(p.val, "expect.matches: rule: want a rule id, not %s", describe(v))
		}
	} else if !suggested["rule"] {
		f.errorf(at, "expect.matches: rule missing")
	}
	if p, ok := got["actions"]; ok {
		seq := resolve(p.val)
		if seq.Kind == yaml.SequenceNode {
			m.Actions = []ExpectedAction{}
			for _, item := range seq.Content {
				if a, ok := f.expectedAction(item); ok {
					m.Actions = append(m.Actions, a)
				}
			}
		} else {
			f.errorf(p.val, "expect.matches: actions: want a list of actions, not %s (actions: [] expects none)", describe(seq))
		}
	}
	return m, len(f.errs) == before
}

// expectedAction reads `- name: params` as in rule files (no templates).
func (f *fileLoader) expectedAction(at *yaml.Node) (ExpectedAction, bool) {
	n := resolve(at)
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 || n.Content[0].Kind != yaml.ScalarNode {
		f.errorf(at, "an expected action is one `name: parameters` pair")
		return ExpectedAction{}, false
	}
	name, val := n.Content[0].Value, resolve(n.Content[1])
	act, ok := f.reg.Lookup(name)
	if !ok {
		if s := actions.Closest(name, f.reg.Names()); s != "" {
			f.errorf(n.Content[0], "unknown action %q (did you mean %q?)", name, s)
		} else {
			f.errorf(n.Content[0], "unknown action %q (want %s)", name, strings.Join(f.reg.Names(), ", "))
		}
		return ExpectedAction{}, false
	}
	spec := act.Spec()
	a := ExpectedAction{Type: name, Params: actions.Params{}}
	set := func(p actions.Param, v *yaml.Node) bool {
		v = resolve(v)
		switch {
		case p.Kind == actions.StringList && v.Kind == yaml.SequenceNode:
			l := []string{}
			for _, it := range v.Content {
				it = resolve(it)
				if it.Kind != yaml.ScalarNode {
					return false
				}
				l = append(l, it.Value)
			}
			a.Params[p.Name] = l
		case p.Kind == actions.StringList && v.Kind == yaml.ScalarNode:
			a.Params[p.Name] = []string{v.Value}
		case v.Kind == yaml.ScalarNode:
			a.Params[p.Name] = scalarValue(v)
		default:
			return false
		}
		return true
	}
	if val.Kind == yaml.MappingNode {
		ok := true
		for _, kv := range f.pairs(val) {
			p, known := spec.Param(kv.key.Value)
			switch {
			case kv.key.Value == "approval":
				v := resolve(kv.val)
				switch {
				case v.Kind == yaml.ScalarNode && v.Value == "required":
					a.Approval = true
				case v.Kind == yaml.ScalarNode && v.Value == "none":
				default:
					f.errorf(kv.val, "%s: approval: %q is not required or none", name, v.Value)
					ok = false
				}
			case !known:
				if s := actions.Closest(kv.key.Value, spec.ParamNames()); s != "" {
					f.errorf(kv.key, "%s: unknown parameter %q (did you mean %q?)", name, kv.key.Value, s)
				} else {
					f.errorf(kv.key, "%s: unknown parameter %q (want %s)", name, kv.key.Value, strings.Join(spec.ParamNames(), ", "))
				}
				ok = false
			case !set(p, kv.val):
				f.errorf(kv.key, "%s: bad parameter %q", name, kv.key.Value)
				ok = false
			}
		}
		return a, ok
	}
	p, ok := spec.Param(spec.Shorthand)
	if !ok || !set(p, val) {
		f.errorf(n.Content[1], "%s takes a mapping of parameters", name)
		return a, false
	}
	return a, true
}

func scalarValue(n *yaml.Node) string {
	if n.Tag == "!!null" {
		return ""
	}
	return n.Value
}
