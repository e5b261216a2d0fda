package rules

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/expr-lang/expr/parser"
)

// FuzzSplitTerms checks the term splitter on any condition: it never panics;
// a condition split in several terms was a parseable && or || chain, and its
// terms, each parseable on its own, joined again by the operator give back the
// condition (white space aside).
func FuzzSplitTerms(f *testing.F) {
	for _, s := range []string{
		`incident.status == "active" && all(devices(incident), {.deviceDnsName in lists.x})`,
		`a || b && c || (d && e)`,
		`"&&" in incident.customTags and not (x or y)`,
		`a ? b && c : d`,
		`let x = 1; x > 0 && y`,
		`[a && b, c][0] && d`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !utf8.ValidString(src) {
			return // conditions come from YAML, which is UTF-8
		}
		terms, op := splitTerms(src)
		if len(terms) == 0 {
			t.Fatal("no terms")
		}
		if len(terms) == 1 {
			if op != "" {
				t.Fatalf("one term joined by %q", op)
			}
			return
		}
		if _, err := parser.Parse(src); err != nil {
			t.Fatalf("split a condition that does not parse: %v", err)
		}
		for _, term := range terms {
			if _, err := parser.Parse(term); err != nil {
				t.Fatalf("term %q of %q does not parse: %v", term, src, err)
			}
		}
		joined := strings.ReplaceAll(strings.ReplaceAll(strings.Join(strings.Fields(src), ""), "and", "&&"), "or", "||")
		again := strings.ReplaceAll(strings.ReplaceAll(strings.Join(strings.Fields(strings.Join(terms, op)), ""), "and", "&&"), "or", "||")
		if joined != again {
			t.Fatalf("terms %q joined by %s are not %q", terms, op, src)
		}
	})
}
