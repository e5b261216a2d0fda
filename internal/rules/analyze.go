package rules

import (
	"reflect"
	"slices"

	"github.com/expr-lang/expr/ast"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// The prefilter. A rule's condition is analysed into clauses that are
// necessary for it to be true: every clause must hold for the rule to match,
// and a clause holds when at least one of its atoms does. An atom is a cheap
// test over the incident ("some customTags value equals "x"", "some fileHashes
// value is in lists.L") that the index evaluates natively, once per event for
// all rules. A rule whose clauses do not all hold cannot match and is not run.
// Parts of a condition the analysis does not understand add no clause, so the
// analysis can only under-constrain, never drop a rule that could match.

// clause is a disjunction of atom keys.
type clause []atom

// atom is "some value of src satisfies pred".
type atom struct {
	src  srcRef
	pred predKind
	lit  string // the literal (predEq, predContains, ...)
	list string // the list name (predInList)
}

type predKind int

const (
	predEq predKind = iota
	predInList
	predContains
	predStartsWith
	predEndsWith
)

// srcRef names a source of string values of an incident.
type srcRef struct {
	kind  srcKind
	name  string // incident field, or helper name
	field string // field of the helper's or alerts' items
}

type srcKind int

const (
	srcIncident srcKind = iota // incident.NAME (string or []string)
	srcHelper                  // NAME(incident) returning []string
	srcItems                   // NAME(incident).FIELD or incident.alerts[*].FIELD
)

// analyseTree returns the necessary clauses of a parsed condition (before the
// checker patches it); nil means the condition is not constrained (the rule
// is always a candidate).
func analyseTree(n ast.Node) []clause {
	if hasLet(n) {
		return nil
	}
	return necessary(n)
}

func hasLet(n ast.Node) bool {
	found := false
	ast.Walk(&n, visitFunc(func(n *ast.Node) {
		if _, ok := (*n).(*ast.VariableDeclaratorNode); ok {
			found = true
		}
	}))
	return found
}

type visitFunc func(*ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }

// necessary returns clauses implied by n being true.
func necessary(n ast.Node) []clause {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			return append(necessary(n.Left), necessary(n.Right)...)
		case "||", "or":
			l, r := necessary(n.Left), necessary(n.Right)
			if len(l) == 0 || len(r) == 0 {
				return nil
			}
			// (L1 ∧ L2 ...) ∨ (R1 ∧ ...) implies L_i ∨ R_j: keep the narrowest.
			return []clause{append(slices.Clone(narrowest(l)), narrowest(r)...)}
		}
		if c := compare(n, nil); c != nil {
			return []clause{c}
		}
	case *ast.BuiltinNode:
		if n.Name == "any" && len(n.Arguments) == 2 {
			if p, ok := n.Arguments[1].(*ast.PredicateNode); ok {
				if items, ok := itemsSource(n.Arguments[0]); ok {
					return inside(p.Node, items)
				}
			}
		}
	}
	return nil
}

func narrowest(cs []clause) clause {
	best := cs[0]
	for _, c := range cs[1:] {
		if len(c) < len(best) {
			best = c
		}
	}
	return best
}

// itemSource describes the collection an any() iterates: plain strings (#) or
// objects whose fields are read with .FIELD.
type itemSource struct {
	ref     srcRef
	strings bool
	elem    reflect.Type // element struct type for objects
}

func itemsSource(n ast.Node) (itemSource, bool) {
	switch n := n.(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || len(n.Arguments) != 1 || !isIdent(n.Arguments[0], "incident") {
			return itemSource{}, false
		}
		switch id.Value {
		case "fileHashes", "ips", "urls":
			return itemSource{ref: srcRef{kind: srcHelper, name: id.Value}, strings: true}, true
		case "devices":
			return itemSource{ref: srcRef{kind: srcItems, name: id.Value}, elem: reflect.TypeOf(incident.Evidence{})}, true
		case "users":
			return itemSource{ref: srcRef{kind: srcItems, name: id.Value}, elem: reflect.TypeOf(incident.UserAccount{})}, true
		case "files":
			return itemSource{ref: srcRef{kind: srcItems, name: id.Value}, elem: reflect.TypeOf(incident.FileDetails{})}, true
		}
	case *ast.MemberNode:
		if isIdent(n.Node, "incident") && propName(n) == "alerts" {
			return itemSource{ref: srcRef{kind: srcItems, name: "alerts"}, elem: reflect.TypeOf(incident.Alert{})}, true
		}
	}
	return itemSource{}, false
}

// inside analyses the predicate body of any(items, {body}).
func inside(body ast.Node, items itemSource) []clause {
	if b, ok := body.(*ast.BinaryNode); ok {
		switch b.Operator {
		case "&&", "and":
			// any(X, {A && B}) implies any(X, {A}) and any(X, {B}).
			return append(inside(b.Left, items), inside(b.Right, items)...)
		case "||", "or":
			l, r := inside(b.Left, items), inside(b.Right, items)
			if len(l) == 0 || len(r) == 0 {
				return nil
			}
			return []clause{append(slices.Clone(narrowest(l)), narrowest(r)...)}
		}
		if c := compare(b, &items); c != nil {
			return []clause{c}
		}
	}
	return nil
}

// compare turns a comparison into a clause: S == "lit", S in ["a", "b"],
// S in lists.L, "lit" in LIST, S contains "lit" (and startsWith, endsWith),
// where S is a string source. Inside any(), S is # or .FIELD of the items.
func compare(b *ast.BinaryNode, items *itemSource) clause {
	switch b.Operator {
	case "==":
		if ref, ok := scalar(b.Left, items); ok {
			if lit, ok := str(b.Right); ok {
				return clause{{src: ref, pred: predEq, lit: lit}}
			}
		}
		if ref, ok := scalar(b.Right, items); ok {
			if lit, ok := str(b.Left); ok {
				return clause{{src: ref, pred: predEq, lit: lit}}
			}
		}
	case "in":
		if lit, ok := str(b.Left); ok {
			if ref, ok := list(b.Right, items); ok {
				return clause{{src: ref, pred: predEq, lit: lit}}
			}
			return nil
		}
		ref, ok := scalar(b.Left, items)
		if !ok {
			return nil
		}
		if name, ok := listName(b.Right); ok {
			return clause{{src: ref, pred: predInList, list: name}}
		}
		if arr, ok := b.Right.(*ast.ArrayNode); ok && len(arr.Nodes) > 0 {
			var c clause
			for _, it := range arr.Nodes {
				lit, ok := str(it)
				if !ok {
					return nil
				}
				c = append(c, atom{src: ref, pred: predEq, lit: lit})
			}
			return c
		}
	case "contains", "startsWith", "endsWith":
		ref, ok := scalar(b.Left, items)
		lit, ok2 := str(b.Right)
		if !ok || !ok2 {
			return nil
		}
		kind := map[string]predKind{"contains": predContains, "startsWith": predStartsWith, "endsWith": predEndsWith}[b.Operator]
		return clause{{src: ref, pred: kind, lit: lit}}
	}
	return nil
}

// scalar recognises a string-valued source: incident.F (F a string field), or
// inside any(): # of a string helper, or .F (a string field) of the items.
func scalar(n ast.Node, items *itemSource) (srcRef, bool) {
	return stringSource(n, items, reflect.String)
}

// list recognises a []string-valued source: incident.F, or .F of the items.
func list(n ast.Node, items *itemSource) (srcRef, bool) {
	if c, ok := n.(*ast.CallNode); ok && items == nil {
		if src, ok := itemsSource(c); ok && src.strings {
			return src.ref, true
		}
	}
	return stringSource(n, items, reflect.Slice)
}

func stringSource(n ast.Node, items *itemSource, kind reflect.Kind) (srcRef, bool) {
	if items != nil {
		if p, ok := n.(*ast.PointerNode); ok && p.Name == "" && items.strings && kind == reflect.String {
			return items.ref, true
		}
		m, ok := n.(*ast.MemberNode)
		if !ok || m.Optional || items.elem == nil {
			return srcRef{}, false
		}
		if p, ok := m.Node.(*ast.PointerNode); !ok || p.Name != "" {
			return srcRef{}, false
		}
		name := propName(m)
		if !hasStringField(items.elem, name, kind) {
			return srcRef{}, false
		}
		return srcRef{kind: srcItems, name: items.ref.name, field: name}, true
	}
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || !isIdent(m.Node, "incident") {
		return srcRef{}, false
	}
	name := propName(m)
	if !hasStringField(reflect.TypeOf(incident.Incident{}), name, kind) {
		return srcRef{}, false
	}
	return srcRef{kind: srcIncident, name: name}, true
}

// hasStringField reports whether struct t has a field tagged expr:"name" of
// type string (kind String) or []string (kind Slice).
func hasStringField(t reflect.Type, name string, kind reflect.Kind) bool {
	f, ok := fieldByTag(t, name)
	if !ok {
		return false
	}
	if kind == reflect.String {
		return f.Type.Kind() == reflect.String
	}
	return f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Tag.Get("expr") == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func listName(n ast.Node) (string, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || !isIdent(m.Node, "lists") {
		return "", false
	}
	name := propName(m)
	return name, name != ""
}

func propName(m *ast.MemberNode) string {
	if s, ok := m.Property.(*ast.StringNode); ok {
		return s.Value
	}
	return ""
}

func str(n ast.Node) (string, bool) {
	s, ok := n.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func isIdent(n ast.Node, name string) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == name
}
