package rules

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// operand is a side of a comparison term whose value explain shows
// (incident.severity in `incident.severity == "high"`): not a literal and not
// a named list.
type operand struct {
	src  string
	prog *vm.Program
}

// isComparison reports whether explain shows the operands of an operator.
func isComparison(op string) bool {
	switch op {
	case "==", "!=", "<", ">", "<=", ">=", "in", "contains", "startsWith", "endsWith", "matches":
		return true
	}
	return false
}

// compileOperands compiles the operands worth showing of a comparison term
// (possibly negated); nil when src is not a comparison.
func (c *compiler) compileOperands(src string) []operand {
	side := func(i int) (ast.Node, *parser.Tree) {
		tree, err := parser.ParseWithConfig(src, c.config())
		if err != nil {
			return nil, nil
		}
		n, _ := unwrapNot(tree.Node)
		b, ok := n.(*ast.BinaryNode)
		if !ok || !isComparison(b.Operator) {
			return nil, nil
		}
		if i == 0 {
			return b.Left, tree
		}
		return b.Right, tree
	}
	var out []operand
	for i := range 2 {
		n, tree := side(i)
		if n == nil || isConstant(n) || isNamedList(n) {
			continue
		}
		tree.Node = n
		chk := &nameCheck{lists: c.lists, fields: c.fields, prev: &c.prev, listsRead: &c.listsRead}
		text := n.String()
		prog, err := c.compileTree(tree, chk, false)
		if err != nil {
			continue
		}
		out = append(out, operand{src: text, prog: prog})
	}
	return out
}

// isConstant reports whether n is a literal (or an array of literals).
func isConstant(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.ConstantNode:
		return true
	case *ast.ArrayNode:
		for _, it := range n.Nodes {
			if !isConstant(it) {
				return false
			}
		}
		return true
	}
	return false
}

func isNamedList(n ast.Node) bool {
	_, ok := listName(n)
	return ok
}

// operandsDetail shows the operands' values: `incident.severity is "medium"`.
func operandsDetail(ops []operand, m *vm.VM, env *Env) string {
	var parts []string
	for _, op := range ops {
		v, err := m.Run(op.prog, env)
		if err != nil {
			parts = append(parts, op.src+": "+err.Error())
			continue
		}
		parts = append(parts, op.src+" is "+formatValue(v))
	}
	return strings.Join(parts, "; ")
}

// maxValueLen bounds a value shown in a detail.
const maxValueLen = 200

// formatValue writes a value for people: strings quoted, times in RFC 3339,
// anything else as JSON; long values are cut.
func formatValue(v any) string {
	var s string
	switch v := v.(type) {
	case nil:
		s = "nil"
	case string:
		s = strconv.Quote(v)
	case time.Time:
		s = v.Format(time.RFC3339Nano)
	case fmt.Stringer:
		s = v.String()
	default:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	}
	if len(s) > maxValueLen {
		s = s[:maxValueLen] + "…"
	}
	return s
}
