package ruletest

import (
	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// expectedMatch reads one item of expect.matches: a rule id, or
// {rule: ID, actions: [...]} with actions written as in rule files.
func (l *loader) expectedMatch(file string, n *yaml.Node) (ExpectedMatch, bool) {
	if n.Kind == yaml.ScalarNode {
		return ExpectedMatch{Rule: n.Value}, true
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(file, n, "expect.matches: want a rule id or {rule: ID, actions: [...]}")
		return ExpectedMatch{}, false
	}
	var m ExpectedMatch
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		switch key.Value {
		case "rule":
			m.Rule = val.Value
		case "actions":
			m.Actions = []ExpectedAction{}
			for _, item := range val.Content {
				a, good := l.expectedAction(file, item)
				ok = ok && good
				m.Actions = append(m.Actions, a)
			}
		default:
			l.errorf(file, key, "expect.matches: unknown field %q (want rule, actions)", key.Value)
			ok = false
		}
	}
	if m.Rule == "" {
		l.errorf(file, n, "expect.matches: rule missing")
		ok = false
	}
	return m, ok
}

// expectedAction reads `- name: params` as in rule files (no templates).
func (l *loader) expectedAction(file string, n *yaml.Node) (ExpectedAction, bool) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		l.errorf(file, n, "an expected action is one `name: parameters` pair")
		return ExpectedAction{}, false
	}
	name, val := n.Content[0].Value, n.Content[1]
	act, ok := l.reg.Lookup(name)
	if !ok {
		l.errorf(file, n.Content[0], "unknown action %q", name)
		return ExpectedAction{}, false
	}
	spec := act.Spec()
	a := ExpectedAction{Type: name, Params: actions.Params{}}
	set := func(p actions.Param, v *yaml.Node) bool {
		switch {
		case p.Kind == actions.StringList && v.Kind == yaml.SequenceNode:
			l := []string{}
			for _, it := range v.Content {
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
		for i := 0; i+1 < len(val.Content); i += 2 {
			p, ok := spec.Param(val.Content[i].Value)
			if !ok || !set(p, val.Content[i+1]) {
				l.errorf(file, val.Content[i], "%s: bad parameter %q", name, val.Content[i].Value)
				return a, false
			}
		}
		return a, true
	}
	p, ok := spec.Param(spec.Shorthand)
	if !ok || !set(p, val) {
		l.errorf(file, val, "%s takes a mapping of parameters", name)
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
