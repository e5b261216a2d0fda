package rules

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// quantifier is a term any/all/none/one(COLLECTION, {PREDICATE}) over a
// helper (devices(incident), fileHashes(incident), evidence(incident, "x"),
// incident.alerts, ...), possibly negated, compiled so that explain can name
// the items that decided it.
type quantifier struct {
	kind    string // any, all, none, one
	negated bool
	noun    [2]string   // singular, plural: "device", "devices"
	items   *vm.Program // the collection
	each    *vm.Program // map(collection, predicate): one bool per item
	yes, no string      // an item that satisfies the predicate is "yes", else "no"
	field   string      // the item property the predicate reads, shown beside the item
}

// compileQuantifier recognises a quantifier term; nil when src is not one.
func (c *compiler) compileQuantifier(src string) *quantifier {
	fresh := func() (*ast.BuiltinNode, *parser.Tree, bool) {
		tree, err := parser.ParseWithConfig(src, c.config())
		if err != nil {
			return nil, nil, false
		}
		n, neg := unwrapNot(tree.Node)
		b, ok := n.(*ast.BuiltinNode)
		if !ok || len(b.Arguments) != 2 {
			return nil, nil, false
		}
		if _, ok := b.Arguments[1].(*ast.PredicateNode); !ok {
			return nil, nil, false
		}
		switch b.Name {
		case "any", "all", "none", "one":
		default:
			return nil, nil, false
		}
		return b, &parser.Tree{Node: b, Source: tree.Source}, neg
	}
	b, _, neg := fresh()
	if b == nil {
		return nil
	}
	noun, ok := collectionNoun(b.Arguments[0])
	if !ok {
		return nil
	}
	body := b.Arguments[1].(*ast.PredicateNode).Node
	q := &quantifier{kind: b.Name, negated: neg, noun: noun, field: readField(body)}
	q.yes, q.no = phrases(body)
	chk := func() *nameCheck {
		return &nameCheck{lists: c.lists, fields: c.fields, prev: &c.prev, listsRead: &c.listsRead}
	}
	// The checker patches the tree it compiles: each program has its own parse.
	_, tree, _ := fresh()
	tree.Node = tree.Node.(*ast.BuiltinNode).Arguments[0]
	var err error
	if q.items, err = c.compileTree(tree, chk(), false); err != nil {
		return nil
	}
	nb, tree, _ := fresh()
	tree.Node = &ast.BuiltinNode{Name: "map", Arguments: nb.Arguments}
	if q.each, err = c.compileTree(tree, chk(), false); err != nil {
		return nil
	}
	return q
}

// unwrapNot strips ! and not, reporting whether an odd number was stripped.
func unwrapNot(n ast.Node) (ast.Node, bool) {
	neg := false
	for {
		u, ok := n.(*ast.UnaryNode)
		if !ok || (u.Operator != "!" && u.Operator != "not") {
			return n, neg
		}
		n, neg = u.Node, !neg
	}
}

// collectionNoun names the items of a helper call or incident.alerts.
func collectionNoun(n ast.Node) ([2]string, bool) {
	switch n := n.(type) {
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return [2]string{}, false
		}
		switch id.Value {
		case "devices":
			return [2]string{"device", "devices"}, true
		case "users":
			return [2]string{"user", "users"}, true
		case "files":
			return [2]string{"file", "files"}, true
		case "fileHashes":
			return [2]string{"file hash", "file hashes"}, true
		case "ips":
			return [2]string{"IP", "IPs"}, true
		case "urls":
			return [2]string{"URL", "URLs"}, true
		case "evidence":
			if len(n.Arguments) == 2 {
				if s, ok := n.Arguments[1].(*ast.StringNode); ok {
					return [2]string{s.Value + " item", s.Value + " items"}, true
				}
			}
			return [2]string{"evidence item", "evidence items"}, true
		}
	case *ast.MemberNode:
		if s, ok := n.Property.(*ast.StringNode); ok && s.Value == "alerts" {
			return [2]string{"alert", "alerts"}, true
		}
	}
	return [2]string{}, false
}

// phrases describes an item that satisfies a predicate and one that does not:
// "in lists.vip" and "not in lists.vip" for {.x in lists.vip}, else
// "matching {…}" and "not matching {…}".
func phrases(body ast.Node) (yes, no string) {
	inner, neg := unwrapNot(body)
	if b, ok := inner.(*ast.BinaryNode); ok && b.Operator == "in" && isItem(b.Left) {
		yes, no = "in "+b.Right.String(), "not in "+b.Right.String()
		if neg {
			yes, no = no, yes
		}
		return yes, no
	}
	return "matching {" + body.String() + "}", "not matching {" + body.String() + "}"
}

// isItem reports whether n is the predicate's item (#) or a property of it.
func isItem(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.PointerNode:
		return true
	case *ast.MemberNode:
		_, ok := n.Node.(*ast.PointerNode)
		return ok
	}
	return false
}

// readField is the first item property (.name) the predicate reads.
func readField(body ast.Node) string {
	field := ""
	ast.Walk(&body, visitFunc(func(n *ast.Node) {
		m, ok := (*n).(*ast.MemberNode)
		if !ok || field != "" {
			return
		}
		if _, ok := m.Node.(*ast.PointerNode); ok {
			field = propName(m)
		}
	}))
	return field
}

// detail evaluates the quantifier's items and says which decided the term.
func (q *quantifier) detail(m *vm.VM, env *Env) string {
	rawItems, err := m.Run(q.items, env)
	if err != nil {
		return "items not evaluated: " + err.Error()
	}
	rawEach, err := m.Run(q.each, env)
	if err != nil {
		return "items not evaluated: " + err.Error()
	}
	items := reflect.ValueOf(rawItems)
	each, _ := rawEach.([]any)
	if rawItems == nil || items.Kind() != reflect.Slice || items.Len() != len(each) {
		return ""
	}
	var yes, no []string
	for i, v := range each {
		label := q.label(items.Index(i).Interface())
		if b, _ := v.(bool); b {
			yes = append(yes, label)
		} else {
			no = append(no, label)
		}
	}
	total := len(each)
	noun := q.noun[1]
	if total == 1 {
		noun = q.noun[0]
	}
	of := func(n int, phrase string, which []string) string {
		s := fmt.Sprintf("%d of %d %s %s", n, total, noun, phrase)
		if len(which) > 0 {
			s += ": " + listOf(which)
		}
		return s
	}
	switch {
	case total == 0:
		return "no " + q.noun[1]
	case q.kind == "any" && len(yes) > 0, q.kind == "none" && len(yes) > 0, q.kind == "one":
		return of(len(yes), q.yes, yes)
	case q.kind == "any", q.kind == "none":
		return fmt.Sprintf("none of %d %s %s: %s", total, noun, q.yes, listOf(no))
	case len(no) > 0: // all, false
		return of(len(no), q.no, no)
	}
	return fmt.Sprintf("all %d %s %s", total, noun, q.yes)
}

// maxListed bounds the items a detail names.
const maxListed = 5

func listOf(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxListed)
}

// label names an item for people: a device by its DNS name, a user by UPN,
// a file by name, an alert by id and title; with the property the predicate
// reads when that is not already the name.
func (q *quantifier) label(v any) string {
	name := itemName(v)
	if q.field == "" {
		return name
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return name
	}
	f, ok := fieldByTag(rv.Elem().Type(), q.field)
	if !ok {
		return name
	}
	val := fmt.Sprint(rv.Elem().FieldByIndex(f.Index).Interface())
	if val == name {
		return name
	}
	return fmt.Sprintf("%s (%s: %s)", name, q.field, formatValue(rv.Elem().FieldByIndex(f.Index).Interface()))
}

func itemName(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case *incident.Evidence:
		for _, s := range []string{v.DeviceDNSName, v.HostName, fileName(v.FileDetails), fileName(v.ImageFile), v.MdeDeviceID} {
			if s != "" {
				return s
			}
		}
		return v.Type
	case *incident.UserAccount:
		for _, s := range []string{v.UserPrincipalName, v.AccountName, v.DisplayName} {
			if s != "" {
				return s
			}
		}
	case *incident.FileDetails:
		if n := fileName(v); n != "" {
			return n
		}
	case *incident.Alert:
		if v.Title != "" {
			return v.ID + " (" + v.Title + ")"
		}
		return v.ID
	}
	return formatValue(v)
}

func fileName(f *incident.FileDetails) string {
	if f == nil {
		return ""
	}
	if f.FileName != "" {
		return f.FileName
	}
	return f.Sha256
}
