package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a position in a rule file: 1-based line and column.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	return fmt.Sprintf("%s:%d:%d", p.File, max(p.Line, 1), max(p.Col, 1))
}

// Error is one problem in a rule file, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the problem as "path:line:col: message".
func (e Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// LoadError is the result of a failed load: every problem found, in file and
// position order. A failed load yields no rules at all.
type LoadError struct {
	Errors []Error
}

// Error formats one "path:line:col: message" line per problem.
func (e *LoadError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		lines[i] = x.Error()
	}
	return strings.Join(lines, "\n")
}

func (e *LoadError) sort() {
	slices.SortStableFunc(e.Errors, func(a, b Error) int { return comparePos(a.Pos, b.Pos) })
}

// comparePos orders positions by file, line and column.
func comparePos(a, b Pos) int {
	return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}
