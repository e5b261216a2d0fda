package rules

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	exprcompiler "github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// compiler compiles the expressions of one load against its lists, and
// collects the incident properties the rules read through previous and the
// lists they read.
type compiler struct {
	lists     Lists
	fields    map[string]int
	prev      previousUse
	listsRead listUse
	conf      *conf.Config // built on first use; a compiler is used by one goroutine
	// cost, when not nil, bounds the worst-case work of the expressions of
	// rule (the rule being compiled); ruleCost is what they cost so far.
	cost     *costModel
	rule     string
	ruleCost ruleCost
	checked  func(ast.Node) // sees the checked tree before it is optimised
}

// listUse is what the expressions read of lists: named lists, or all of
// them when lists is used otherwise than lists.NAME (lists[name], len(lists)).
type listUse struct {
	names map[string]bool
	all   bool
}

// previousUse is what the rules read of previous: named properties, or the
// whole incident when previous is used otherwise than prop access, a nil test
// or changed().
type previousUse struct {
	fields map[string]bool
	whole  bool
}

// exprError is a compile problem at a rune offset of the expression source.
type exprError struct {
	off int
	msg string
}

// compile compiles one expression (a condition when asBool). Problems are
// returned with rune offsets into src. inspect, when not nil, sees the parsed
// tree before it is checked (and patched).
func (c *compiler) compile(src string, asBool bool, inspect func(ast.Node)) (*vm.Program, []exprError) {
	chk := &nameCheck{lists: c.lists, fields: c.fields, prev: &c.prev, listsRead: &c.listsRead}
	var over *exprError
	if c.cost != nil {
		c.checked = func(n ast.Node) { over = c.measure(n, !asBool) }
		defer func() { c.checked = nil }()
	}
	prog, err := c.compileExpr(src, chk, asBool, inspect)
	chk.finish()
	errs := chk.errs
	if over != nil && err == nil {
		errs = append(errs, *over)
	}
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			errs = append(errs, exprError{off: offsetOf(src, fe.Line, fe.Column), msg: hint(fe.Message)})
		} else {
			errs = append(errs, exprError{msg: hint(err.Error())})
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].off < errs[j].off })
		return nil, dedupe(errs)
	}
	return prog, nil
}

// compileExpr is expr.Compile with the options of exprOptions, a visitor
// and, for a condition, a boolean result; the configuration is made once per
// compiler instead of once per expression, so the environment's types are
// reflected over once and their lookups cached across expressions.
func (c *compiler) compileExpr(src string, v ast.Visitor, asBool bool, inspect func(ast.Node)) (*vm.Program, error) {
	tree, err := parser.ParseWithConfig(src, c.config())
	if err != nil {
		return nil, err
	}
	if inspect != nil {
		inspect(tree.Node)
	}
	return c.compileTree(tree, v, asBool)
}

// config returns the compiler's expr configuration, made on first use.
func (c *compiler) config() *conf.Config {
	if c.conf == nil {
		cfg := conf.CreateNew()
		for _, op := range exprOptions() {
			op(cfg)
		}
		for name := range cfg.Disabled {
			delete(cfg.Builtins, name)
		}
		c.conf = cfg
	}
	return c.conf
}

// compileTree checks, optimises and compiles a parsed expression, as
// expr.Compile does after parsing.
func (c *compiler) compileTree(tree *parser.Tree, v ast.Visitor, asBool bool) (*vm.Program, error) {
	cfg := c.config()
	cfg.Visitors = []ast.Visitor{v}
	cfg.Expect, cfg.ExpectAny = reflect.Invalid, false
	if asBool {
		cfg.Expect, cfg.ExpectAny = reflect.Bool, true
	}
	defer func() { cfg.Visitors = nil }()
	cfg.Check()
	if _, err := new(checker.Checker).PatchAndCheck(tree, cfg); err != nil {
		return nil, err
	}
	if c.checked != nil {
		c.checked(tree.Node)
	}
	if cfg.Optimize {
		if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return exprcompiler.Compile(tree, cfg)
}

func dedupe(errs []exprError) []exprError {
	out := errs[:0]
	for i, e := range errs {
		if i > 0 && e == errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// offsetOf converts expr's 1-based line and 0-based rune column to a rune offset.
func offsetOf(src string, line, col int) int {
	off, l := 0, 1
	for _, r := range src {
		if l >= line {
			break
		}
		off++
		if r == '\n' {
			l++
		}
	}
	return off + col
}

// nameCheck is an expr visitor that rejects names the type checker cannot see
// (unknown list names, as lists is a map, and unknown fields given to
// changed()) and makes optional chains nil-safe in comparisons: expr types
// previous?.severity as a string and compares it with a string-only
// instruction that fails on nil, so such an operand is passed through
// optional(), typed any, which selects the generic comparison.
type nameCheck struct {
	lists  Lists
	fields map[string]int
	errs   []exprError
	prev   *previousUse
	// uses of the identifier previous, and those that are property reads or
	// nil tests
	prevUses, prevCovered int
	listsRead             *listUse
	// uses of the identifier lists, and those that are lists.NAME
	listUses, listCovered int
}

func (c *nameCheck) notePrevious(field string) {
	if c.prev.fields == nil {
		c.prev.fields = map[string]bool{}
	}
	c.prev.fields[field] = true
}

// finish decides, after the walk, whether previous is used whole and
// whether every list may be read.
func (c *nameCheck) finish() {
	if c.prevUses > c.prevCovered {
		c.prev.whole = true
	}
	if c.listUses > c.listCovered {
		c.listsRead.all = true
	}
}

func (c *nameCheck) noteList(name string) {
	if c.listsRead.names == nil {
		c.listsRead.names = map[string]bool{}
	}
	c.listsRead.names[name] = true
}

func (c *nameCheck) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "previous":
			c.prevUses++
		case "lists":
			c.listUses++
		}
	case *ast.BinaryNode:
		c.checkEnumCompare(n)
		if (n.Operator == "==" || n.Operator == "!=") && (isNilTestOf(n.Left, n.Right) || isNilTestOf(n.Right, n.Left)) {
			c.prevCovered++
		}
		switch n.Operator {
		case "==", "!=", "in", "contains", "startsWith", "endsWith", "matches":
			for _, side := range []*ast.Node{&n.Left, &n.Right} {
				if _, ok := (*side).(*ast.ChainNode); ok {
					*side = &ast.CallNode{Callee: &ast.IdentifierNode{Value: optionalFunc}, Arguments: []ast.Node{*side}}
				}
			}
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		if ok && id.Value == "previous" {
			if s, ok := n.Property.(*ast.StringNode); ok {
				c.prevCovered++
				c.notePrevious(s.Value)
			}
			return
		}
		if !ok || id.Value != "lists" {
			return
		}
		if s, ok := n.Property.(*ast.StringNode); ok {
			c.listCovered++
			c.noteList(s.Value)
			if _, ok := c.lists[s.Value]; !ok {
				c.errs = append(c.errs, exprError{off: n.Property.Location().From,
					msg: fmt.Sprintf("unknown list %q%s", s.Value, didYouMean(s.Value, keys(c.lists)))})
			}
		}
	case *ast.CallNode:
		c.checkCallLiterals(n)
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "changed" || len(n.Arguments) != 1 {
			return
		}
		if s, ok := n.Arguments[0].(*ast.StringNode); ok {
			c.notePrevious(s.Value)
			if _, ok := c.fields[s.Value]; !ok {
				c.errs = append(c.errs, exprError{off: n.Arguments[0].Location().From,
					msg: fmt.Sprintf("changed(%q): not an incident property%s", s.Value, didYouMean(s.Value, keys(c.fields)))})
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func didYouMean(got string, candidates []string) string {
	if m := actions.Closest(got, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

// isNilTestOf reports whether id is the identifier previous and other is nil.
func isNilTestOf(id, other ast.Node) bool {
	i, ok := id.(*ast.IdentifierNode)
	if !ok || i.Value != "previous" {
		return false
	}
	_, isNil := other.(*ast.NilNode)
	return isNil
}
