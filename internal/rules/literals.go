package rules

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// The literal checks of nameCheck: a string compared with an enumeration
// property, an evidence type and a changed() argument are known at load, so
// a misspelt one is a load error instead of a rule that never matches. A
// determination named as Microsoft's incident page names it (clean) is
// pointed to Graph's name (notMalicious).

// checkEnumCompare checks the string literals compared with an enumeration
// (incident.status == "activ", event.type in ["create"]).
func (c *nameCheck) checkEnumCompare(n *ast.BinaryNode) {
	switch n.Operator {
	case "==", "!=":
		c.checkEnumLiteral(n.Left, n.Right)
		c.checkEnumLiteral(n.Right, n.Left)
	case "in", "not in":
		if arr, ok := n.Right.(*ast.ArrayNode); ok {
			for _, item := range arr.Nodes {
				c.checkEnumLiteral(n.Left, item)
			}
		}
	}
}

func (c *nameCheck) checkEnumLiteral(prop, lit ast.Node) {
	s, ok := lit.(*ast.StringNode)
	if !ok {
		return
	}
	name, values := enumOf(prop)
	if values == nil || slices.Contains(values, s.Value) {
		return
	}
	if strings.HasSuffix(name, ".determination") {
		if err := actions.CheckDeterminationAlias(s.Value); err != nil {
			c.errs = append(c.errs, exprError{off: lit.Location().From, msg: name + ": " + err.Error()})
			return
		}
	}
	msg := fmt.Sprintf("%q is never a value of %s%s", s.Value, name, didYouMean(s.Value, values))
	if !strings.Contains(msg, "did you mean") {
		msg += fmt.Sprintf(" (its values: %s)", strings.Join(values, ", "))
	}
	c.errs = append(c.errs, exprError{off: lit.Location().From, msg: msg})
}

// enumOf names the enumeration property n reads and its values (nil when n
// is not one): incident.X, previous.X, previous?.X, event.type.
func enumOf(n ast.Node) (string, []string) {
	if ch, ok := n.(*ast.ChainNode); ok {
		n = ch.Node
	}
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return "", nil
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, pok := m.Property.(*ast.StringNode)
	if !ok || !pok {
		return "", nil
	}
	switch id.Value {
	case "incident", "previous":
		return id.Value + "." + prop.Value, incident.EnumValues(prop.Value)
	case "event":
		if prop.Value == "type" {
			return "event.type", []string{"created", "updated"}
		}
	}
	return "", nil
}

// checkCallLiterals checks changed("property") and evidence(x, "type").
func (c *nameCheck) checkCallLiterals(n *ast.CallNode) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	switch {
	case id.Value == "changed" && len(n.Arguments) == 1:
		if _, ok := n.Arguments[0].(*ast.StringNode); !ok {
			c.errs = append(c.errs, exprError{off: startOf(n.Arguments[0]).Location().From,
				msg: `changed() takes a property name in quotes, e.g. changed("severity")`})
		}
	case id.Value == "evidence" && len(n.Arguments) == 2:
		s, ok := n.Arguments[1].(*ast.StringNode)
		if !ok || strings.HasPrefix(s.Value, "#") {
			return // a full "#microsoft.graph.security.…" name is taken as it is
		}
		known := incident.EvidenceTypes()
		if !slices.Contains(known, incident.ShortType(s.Value)) {
			c.errs = append(c.errs, exprError{off: s.Location().From,
				msg: fmt.Sprintf("evidence type %q is not one of Graph's%s (a type newer than graphsoar: write \"#microsoft.graph.security.%s\")",
					s.Value, didYouMean(s.Value, known), s.Value)})
		}
	}
}

// startOf is the leftmost node of a property chain (incident in
// incident.severity), whose location is where the text starts.
func startOf(n ast.Node) ast.Node {
	for {
		switch m := n.(type) {
		case *ast.MemberNode:
			n = m.Node
		case *ast.ChainNode:
			n = m.Node
		default:
			return n
		}
	}
}
