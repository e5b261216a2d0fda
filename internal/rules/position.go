package rules

import (
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source is one rule file being loaded: its name for messages and its lines,
// which map positions inside YAML scalars (expressions, templates) back to the
// file.
type source struct {
	name  string // as shown in messages
	path  string // in the loader's file system
	lines []string
}

func newSource(name, path string, data []byte) *source {
	return &source{name: name, path: path, lines: strings.Split(string(data), "\n")}
}

// at returns the position of node n.
func (s *source) at(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: s.name, Line: 1, Col: 1}
	}
	return Pos{File: s.name, Line: n.Line, Col: n.Column}
}

// within returns the position of the rune at offset runeOff of scalar n's
// value. It is exact for one-line scalars and for literal and folded blocks;
// where the value cannot be matched to the source lines (escapes in quoted
// multi-line scalars), it falls back to the scalar's own position.
func (s *source) within(n *yaml.Node, runeOff int) Pos {
	val := n.Value
	byteOff := runeToByte(val, runeOff)
	block := n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0
	quoted := n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	if !block && !strings.Contains(val, "\n") && n.Line <= len(s.lines) {
		col := n.Column + runeOff
		if quoted {
			col++
		}
		return Pos{File: s.name, Line: n.Line, Col: col}
	}
	first := n.Line
	if block {
		first++
	}
	cursor := 0
	for l := first; l <= len(s.lines) && cursor <= len(val); l++ {
		text := s.lines[l-1]
		start := 0
		if l == n.Line {
			start = min(max(n.Column-1, 0), len(text))
			if quoted {
				start = min(start+1, len(text))
			}
		}
		seg := text[start:]
		lead := len(seg) - len(strings.TrimLeft(seg, " \t"))
		content := strings.TrimRight(seg[lead:], " \t\r")
		if quoted {
			content = strings.TrimSuffix(content, string(quoteOf(n)))
		}
		if content == "" {
			continue
		}
		idx := strings.Index(val[cursor:], content)
		if idx < 0 {
			break
		}
		begin := cursor + idx
		if byteOff < begin+len(content) {
			inLine := max(byteOff-begin, 0)
			col := utf8.RuneCountInString(text[:start+lead]) + utf8.RuneCountInString(content[:inLine]) + 1
			return Pos{File: s.name, Line: l, Col: col}
		}
		cursor = begin + len(content)
	}
	p := s.at(n)
	if block {
		p.Line++
	}
	return p
}

func quoteOf(n *yaml.Node) byte {
	if n.Style&yaml.SingleQuotedStyle != 0 {
		return '\''
	}
	return '"'
}

func runeToByte(s string, runeOff int) int {
	i := 0
	for b := range s {
		if i == runeOff {
			return b
		}
		i++
	}
	return len(s)
}
