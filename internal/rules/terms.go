package rules

import (
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/parser/lexer"
	"github.com/expr-lang/expr/vm"
)

// term is one operand of a condition's top-level && (or ||) chain, compiled
// on its own so that explain and coverage can report its value. Terms are
// compiled only when a rule is first explained: evaluation never pays for
// them.
type term struct {
	src   string      // the operand's source, white space collapsed
	prog  *vm.Program // nil when it did not compile on its own
	err   string
	quant *quantifier // any/all/none/one over a helper: the deciding items
	shown []operand   // a comparison's operands worth showing
}

// termsOf returns the rule's terms and the operator that joins them ("&&",
// "||", or "" for a condition of one term), compiling them on first use.
func (rs *RuleSet) termsOf(r *Rule) ([]*term, string) {
	r.termsOnce.Do(func() {
		c := &compiler{lists: rs.lists, fields: rs.fields}
		srcs, op := splitTerms(r.When)
		for _, s := range srcs {
			r.terms = append(r.terms, c.compileTerm(s))
		}
		r.termOp = op
	})
	return r.terms, r.termOp
}

// splitTerms splits a condition at its top-level && (and) or || (or)
// operators: the operands of the root of its syntax tree when the root is
// such an operator, flattened across a chain of the same operator. Anything
// else is one term. The operands keep their source text.
func splitTerms(src string) ([]string, string) {
	whole := []string{collapse(src)}
	tree, err := parser.Parse(src)
	if err != nil {
		return whole, ""
	}
	b, ok := tree.Node.(*ast.BinaryNode)
	if !ok {
		return whole, ""
	}
	var op string
	switch b.Operator {
	case "&&", "and":
		op = "&&"
	case "||", "or":
		op = "||"
	default:
		return whole, ""
	}
	toks, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return whole, ""
	}
	runes := []rune(src)
	var parts []string
	depth, start := 0, 0
	for _, t := range toks {
		switch {
		case t.Kind == lexer.Bracket && strings.ContainsAny(t.Value, "([{"):
			depth++
		case t.Kind == lexer.Bracket:
			depth--
		case t.Kind == lexer.Operator && depth == 0 && isJoin(t.Value, op):
			parts = append(parts, collapse(string(runes[start:t.From])))
			start = t.To
		}
	}
	parts = append(parts, collapse(string(runes[min(start, len(runes)):])))
	if len(parts) != chainLen(b, op) {
		return whole, "" // a form this split does not follow: keep it whole
	}
	return parts, op
}

// isJoin reports whether an operator token is the chain's operator.
func isJoin(tok, op string) bool {
	if op == "&&" {
		return tok == "&&" || tok == "and"
	}
	return tok == "||" || tok == "or"
}

// chainLen counts the operands of a chain of op rooted at n.
func chainLen(n ast.Node, op string) int {
	b, ok := n.(*ast.BinaryNode)
	if !ok || !isJoin(b.Operator, op) {
		return 1
	}
	return chainLen(b.Left, op) + chainLen(b.Right, op)
}

// collapse trims s and turns each run of white space into one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

// compileTerm compiles one term and what its detail needs.
func (c *compiler) compileTerm(src string) *term {
	t := &term{src: src}
	chk := &nameCheck{lists: c.lists, fields: c.fields, prev: &c.prev, listsRead: &c.listsRead}
	prog, err := c.compileExpr(src, chk, false, nil)
	if err != nil {
		t.err = err.Error()
		return t
	}
	t.prog = prog
	t.quant = c.compileQuantifier(src)
	if t.quant == nil {
		t.shown = c.compileOperands(src)
	}
	return t
}
