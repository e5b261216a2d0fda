package rules

import (
	"errors"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// compileRule compiles a parsed rule's condition and actions; problems are
// recorded on the loader and the result is nil when there were any.
func (l *loader) compileRule(c *compiler, raw *rawRule) *Rule {
	before := len(l.errs)
	r := &Rule{
		ID:          raw.id,
		Description: raw.description,
		Order:       raw.order,
		Enabled:     raw.enabled,
		Expires:     raw.expires,
		When:        raw.when,
		Stop:        raw.stop,
		Pos:         raw.src.at(raw.node),
		idPos:       raw.src.at(raw.idNode),
		expiresPos:  raw.src.at(raw.expiresNode),
		onCreated:   raw.onCreated,
		onUpdated:   raw.onUpdated,
		info:        &RuleInfo{ID: raw.id, Description: raw.description},
	}
	if raw.whenNode != nil {
		prog, errs := c.compile(raw.when, true, func(n ast.Node) { r.clauses = analyseTree(n) })
		for _, e := range errs {
			l.errorAt(raw.src.within(raw.whenNode, e.off), "%s", e.msg)
		}
		r.cond = prog
	}
	for _, ra := range raw.actions {
		if a := l.compileAction(c, raw.src, ra); a != nil {
			r.actions = append(r.actions, a)
		}
	}
	if len(l.errs) > before {
		return nil
	}
	return r
}

func (l *loader) compileAction(c *compiler, src *source, ra rawAction) *ruleAction {
	act, ok := l.reg.Lookup(ra.name)
	if !ok {
		l.errorAt(src.at(ra.key), "unknown action %q%s (actions: %s)", ra.name, didYouMean(ra.name, l.reg.Names()), joinNames(l.reg.Names()))
		return nil
	}
	spec := act.Spec()
	before := len(l.errs)
	values := map[string]*yaml.Node{}
	switch ra.value.Kind {
	case yaml.MappingNode:
		l.eachKeyOf(src, ra.value, spec.Name+" parameter", append(spec.ParamNames(), approvalKey), func(key, val *yaml.Node) { values[key.Value] = val })
	default:
		if spec.Shorthand == "" {
			l.errorAt(src.at(ra.value), "%s takes a mapping of parameters: %s", spec.Name, exampleOf(spec))
			return nil
		}
		values[spec.Shorthand] = ra.value
	}
	a := &ruleAction{name: spec.Name, spec: spec}
	if n, ok := values[approvalKey]; ok {
		delete(values, approvalKey)
		a.approval = l.approval(src, spec, n)
	}
	static := true
	for _, p := range spec.Params {
		n, ok := values[p.Name]
		if !ok {
			if p.Required {
				l.errorAt(src.at(ra.value), "%s: parameter %s missing (%s)", spec.Name, p.Name, exampleOf(spec))
			}
			continue
		}
		rp := l.compileParam(c, src, spec, p, n)
		if rp == nil {
			continue
		}
		for _, t := range rp.items {
			if t.segs != nil || t.whole != nil {
				static = false
			}
		}
		a.params = append(a.params, rp)
	}
	if len(l.errs) > before {
		return nil
	}
	if static {
		params, err := a.renderWith(nil, nil)
		if err == nil {
			err = spec.Check(params)
		}
		if err != nil {
			at := src.at(ra.value)
			var pe *actions.ParamError
			if errors.As(err, &pe) && values[pe.Param] != nil {
				at = src.at(values[pe.Param]) // the parameter at fault among valid ones
			}
			l.errorAt(at, "%s: %v", spec.Name, err)
			return nil
		}
		a.static = params
	}
	return a
}

// approvalKey is the key, beside an action's parameters in its object form,
// that holds the action for a person's approval.
const approvalKey = "approval"

// approval reads an action's approval: required (held) or none.
func (l *loader) approval(src *source, spec actions.Spec, n *yaml.Node) bool {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "required":
			return true
		case "none":
			return false
		}
	}
	l.errorAt(src.at(n), "%s: approval: %q is not required or none", spec.Name, n.Value)
	return false
}

// compileParam compiles one parameter value node.
func (l *loader) compileParam(c *compiler, src *source, spec actions.Spec, p actions.Param, n *yaml.Node) *ruleParam {
	rp := &ruleParam{param: p}
	var nodes []*yaml.Node
	switch {
	case n.Kind == yaml.SequenceNode && p.Kind == actions.StringList:
		rp.seq, nodes = true, n.Content
	case n.Kind == yaml.ScalarNode:
		nodes = []*yaml.Node{n}
	default:
		want := "a string"
		if p.Kind == actions.StringList {
			want = "a string or a list of strings"
		}
		l.errorAt(src.at(n), "%s: %s: want %s", spec.Name, p.Name, want)
		return nil
	}
	if rp.seq && len(nodes) == 0 {
		// A literal empty list: checked here, at its own position, even when
		// other parameters of the action are templates.
		if err := p.CheckValue([]string{}); err != nil {
			l.errorAt(src.at(n), "%s: %v", spec.Name, err)
			return nil
		}
	}
	ok := true
	for _, item := range nodes {
		if item.Kind != yaml.ScalarNode {
			l.errorAt(src.at(item), "%s: %s: items must be strings", spec.Name, p.Name)
			ok = false
			continue
		}
		t := l.compileTemplate(c, src, spec, p, item)
		if t == nil {
			ok = false
			continue
		}
		if t.segs == nil && t.whole == nil {
			// A literal: check it now, at its own position, so that a typo is a
			// load error.
			var v any = t.lit
			if p.Kind == actions.StringList {
				v = []string{t.lit}
			}
			if err := p.CheckValue(v); err != nil {
				l.errorAt(src.at(item), "%s: %v", spec.Name, err)
				ok = false
				continue
			}
		}
		rp.items = append(rp.items, t)
	}
	if !ok {
		return nil
	}
	return rp
}

// compileTemplate compiles one scalar that may hold {{ expr }} templates and
// checks a whole template's type against the parameter.
func (l *loader) compileTemplate(c *compiler, src *source, spec actions.Spec, p actions.Param, n *yaml.Node) *tmpl {
	value := n.Value
	if isNull(n) {
		value = ""
	}
	parts, perr := splitTemplate(value)
	if perr != nil {
		l.errorAt(src.within(n, perr.off), "%s: %s: %s", spec.Name, p.Name, perr.msg)
		return nil
	}
	t := &tmpl{lit: value}
	failed := false
	for _, part := range parts {
		if !part.isExpr {
			t.segs = append(t.segs, segment{text: part.text})
			continue
		}
		prog, errs := c.compile(part.text, false, nil)
		for _, e := range errs {
			l.errorAt(src.within(n, part.off+e.off), "%s: %s: %s", spec.Name, p.Name, e.msg)
			failed = true
		}
		if prog == nil {
			continue
		}
		t.segs = append(t.segs, segment{prog: prog})
	}
	if failed {
		return nil
	}
	exprs := exprParts(parts, t.segs)
	switch {
	case len(exprs) == 0:
		t.segs = nil
	case len(exprs) == 1 && onlySpaceAround(parts):
		// One {{ expr }}, maybe with a block scalar's newline: the typed value.
		t.whole, t.segs = exprs[0].prog, nil
		typ := t.whole.Node().Type()
		var err error
		if p.Kind == actions.StringList {
			err = checkListType(typ)
		} else {
			err = checkTextType(typ)
		}
		if err != nil {
			l.errorAt(src.within(n, exprs[0].off), "%s: %s: {{ %s }} %v", spec.Name, p.Name, exprs[0].text, err)
			return nil
		}
	default:
		for _, e := range exprs {
			if err := checkTextType(e.prog.Node().Type()); err != nil {
				l.errorAt(src.within(n, e.off), "%s: %s: {{ %s }} %v", spec.Name, p.Name, e.text, err)
				failed = true
			}
		}
		if failed {
			return nil
		}
	}
	return t
}

// compiledPart is a {{ expr }} part with its program.
type compiledPart struct {
	rawPart
	prog *vm.Program
}

// exprParts pairs the expression parts with their programs (segs holds one
// segment per part, in order).
func exprParts(parts []rawPart, segs []segment) []compiledPart {
	var out []compiledPart
	for i, p := range parts {
		if p.isExpr {
			out = append(out, compiledPart{rawPart: p, prog: segs[i].prog})
		}
	}
	return out
}

// onlySpaceAround reports whether every literal part is white space.
func onlySpaceAround(parts []rawPart) bool {
	for _, p := range parts {
		if !p.isExpr && strings.TrimSpace(p.text) != "" {
			return false
		}
	}
	return true
}

func exampleOf(s actions.Spec) string {
	if s.Example == "" {
		return "see graphsoar schema"
	}
	return "e.g. `" + s.Example + "`"
}

func joinNames(names []string) string { return strings.Join(names, ", ") }
