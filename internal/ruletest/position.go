package ruletest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// source is one test file: its name for messages and its content, to turn
// yaml.v3 positions and byte offsets into the "line:col" of messages (lines
// are counted at "\n", columns in characters from 1).
type source struct {
	name string
	data []byte // without a UTF-8 byte order mark
	// lines are the offsets of the lines, yamlLines those of the lines as
	// yaml.v3 counts them: it also breaks lines at a lone "\r", U+0085,
	// U+2028 and U+2029.
	lines, yamlLines []int
	ascii            bool
	// chars are the offsets of the characters of long non-ASCII lines.
	chars map[[2]int][]int
}

func newSource(name string, data []byte) *source {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	s := &source{name: name, data: data, lines: []int{0}, yamlLines: []int{0}, ascii: true}
	for i := 0; i < len(data); {
		if data[i] >= utf8.RuneSelf {
			s.ascii = false
		}
		n := lineBreak(data[i:])
		if n == 0 {
			i++
			continue
		}
		i += n
		s.yamlLines = append(s.yamlLines, i)
		if data[i-1] == '\n' {
			s.lines = append(s.lines, i)
		}
	}
	return s
}

// lineBreak returns the length of the line break b starts with, or 0.
func lineBreak(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte("\r\n")):
		return 2
	case b[0] == '\r' || b[0] == '\n':
		return 1
	case bytes.HasPrefix(b, []byte("\u0085")):
		return 2
	case bytes.HasPrefix(b, []byte("\u2028")), bytes.HasPrefix(b, []byte("\u2029")):
		return 3
	}
	return 0
}

// charOffset returns the offset of the col-th (from 1) character of the line
// [start, end), or end.
func (s *source) charOffset(start, end, col int) int {
	if s.ascii {
		return min(start+col-1, end)
	}
	if end-start < 64 {
		off := start
		for ; col > 1 && off < end; col-- {
			_, n := utf8.DecodeRune(s.data[off:])
			off += n
		}
		return off
	}
	chars := s.lineChars(start, end)
	if col-1 < len(chars) {
		return chars[col-1]
	}
	return end
}

// column returns the column (from 1) of offset off in the line from start.
func (s *source) column(start, off int) int {
	if s.ascii {
		return off - start + 1
	}
	end := len(s.data)
	if i := sort.SearchInts(s.lines, start+1); i < len(s.lines) {
		end = s.lines[i]
	}
	if end-start < 64 {
		return 1 + utf8.RuneCount(s.data[start:off])
	}
	return 1 + sort.SearchInts(s.lineChars(start, end), off)
}

func (s *source) lineChars(start, end int) []int {
	if s.chars == nil {
		s.chars = map[[2]int][]int{}
	}
	key := [2]int{start, end}
	chars, ok := s.chars[key]
	if !ok {
		for off := start; off < end; {
			chars = append(chars, off)
			_, n := utf8.DecodeRune(s.data[off:])
			off += n
		}
		s.chars[key] = chars
	}
	return chars
}

// offset returns the offset of yaml.v3's 1-based line and column.
func (s *source) offset(line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(s.yamlLines) {
		return len(s.data)
	}
	end := len(s.data)
	if line < len(s.yamlLines) {
		end = s.yamlLines[line]
	}
	return s.charOffset(s.yamlLines[line-1], end, col)
}

// lineAt returns the line (from 1) of offset off and the offset of its start.
func (s *source) lineAt(off int) (line, start int) {
	i := sort.SearchInts(s.lines, off+1) - 1
	return i + 1, s.lines[i]
}

// pos returns "name:line:col" for an offset.
func (s *source) pos(off int) string {
	off = max(0, min(off, len(s.data)))
	line, start := s.lineAt(off)
	return fmt.Sprintf("%s:%d:%d", s.name, line, s.column(start, off))
}

// line returns the line of node n.
func (s *source) line(n *yaml.Node) int {
	line, _ := s.lineAt(s.offset(n.Line, n.Column))
	return line
}

// parse reads every YAML document of data.
func parse(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parserErrors are the messages of yaml.v3's parser (the others come from
// its scanner and reader). It reports the line of a parser error 0-based.
var parserErrors = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
	"found duplicate %TAG directive":         true,
}

// syntaxError returns the offset of the mistake behind err, an error of
// parse(data), and its message without yaml.v3's "yaml: line N: ".
//
// yaml.v3 does not report where the mistake is: its "line N" is the line
// where the construct that failed starts (the block mapping of a key
// indented wrongly, the flow sequence missing a "]", the plain scalar before
// a tab), 0-based for parser errors; only when that is line 1 does it report
// the mistake's line (or none). So the mistake is found by parsing prefixes
// of data: it is in the shortest one that fails as the whole does.
func syntaxError(data []byte, err error) (int, string) {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	p, unclosed := locate(data, msg)
	switch {
	case p < 0:
		// Not reproduced: yaml.v3's line, made 1-based.
		if parserErrors[msg] {
			line++
		}
		return newSource("", data).offset(max(line, 1), 1), msg
	case unclosed && strings.HasSuffix(msg, "']'"):
		return p, msg + " (the file ends before this list is closed)"
	case unclosed:
		return p, msg + " (the file ends before this mapping is closed)"
	case p == len(data):
	case parserErrors[msg] && data[p] == ':':
		// The token that failed is a key: a prefix fails once it has the
		// ":" that makes the key.
		p = keyStart(data, p)
	case msg == "could not find expected ':'" || strings.HasPrefix(msg, "unknown anchor"):
		p = wordStart(data, p)
	case msg == "found character that cannot start any token" && data[p] == '\t',
		msg == "found a tab character that violates indentation":
		msg += " (indent with spaces, not tabs)"
	case msg == "found unexpected end of stream" && (data[p] == '"' || data[p] == '\''):
		msg += " (this quote is not closed)"
	}
	return p, msg
}

// maxFlowDepth is yaml.v3's limit of nested flow collections.
const maxFlowDepth = 10000

// failure returns the error of parsing data (with closers after it, when
// set), "" if none. A line before data makes yaml.v3 report a line for
// every error (it omits line 0), the same for a prefix as for the whole.
func failure(data []byte, opener, closer byte) string {
	b := make([]byte, 0, len(data)+2)
	b = append(append(b, '\n'), data...)
	if closer != 0 {
		n := min(bytes.Count(data, []byte{opener})+1, maxFlowDepth+1)
		b = append(append(b, '\n'), bytes.Repeat([]byte{closer}, n)...)
	}
	_, err := parse(b)
	if err == nil {
		return ""
	}
	return err.Error()
}

// locate returns the offset of the last character of the shortest prefix of
// data that fails to parse as data does (the same message and the same
// line, which yaml.v3 reports for the construct that failed), or -1.
//
// A prefix ends where the file would: complete lines before the mistake
// parse, or fail differently. Except in a flow collection, where the end
// fails as a missing "]" or "}" does: there the prefix is closed with as
// many brackets as it opens, which end the collection instead. When that
// makes data parse, data misses a closing bracket: locate returns the
// offset of the one that is not closed and unclosed.
func locate(data []byte, msg string) (off int, unclosed bool) {
	var opener, closer byte
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected node content":
		opener, closer = '[', ']'
	case "did not find expected ',' or '}'":
		opener, closer = '{', '}'
	}
	whole := failure(data, 0, 0)
	if whole == "" || !strings.HasSuffix(whole, msg) {
		return -1, false
	}
	if closer != 0 && failure(data, opener, closer) != whole {
		m := yamlLine.FindStringSubmatch(whole)
		if m == nil || msg == "did not find expected node content" {
			return -1, false
		}
		line, _ := strconv.Atoi(m[1])
		return unclosedOpener(data, newSource("", data).offset(line, 1), opener, closer), true
	}
	fails := func(end int) bool { return failure(data[:end], opener, closer) == whole }
	// The line of the mistake, then its character: prefixes fail as the
	// whole from the mistake on.
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	i := sort.Search(len(ends)-1, func(i int) bool { return fails(ends[i]) })
	start := 0
	if i > 0 {
		start = ends[i-1]
	}
	var cuts []int
	for j := start; j < ends[i]; {
		_, n := utf8.DecodeRune(data[j:])
		j += n
		cuts = append(cuts, j)
	}
	k := sort.Search(len(cuts)-1, func(k int) bool { return fails(cuts[k]) })
	_, n := utf8.DecodeLastRune(data[:cuts[k]])
	return cuts[k] - n, false
}

// unclosedOpener returns the offset of the innermost opener on the line at
// start that the line does not close, or of the line's first character.
func unclosedOpener(data []byte, start int, opener, closer byte) int {
	var open []int
	i := start
	for ; i < len(data) && data[i] != '\n' && data[i] != '\r'; i++ {
		switch data[i] {
		case '[', '{':
			open = append(open, i)
		case ']', '}':
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
	}
	for j := len(open) - 1; j >= 0; j-- {
		if data[open[j]] == opener {
			return open[j]
		}
	}
	for i = start; i < len(data) && (data[i] == ' ' || data[i] == '\t'); i++ {
	}
	return i
}

// lineStart returns the offset of the start of p's line.
func lineStart(data []byte, p int) int {
	return bytes.LastIndexAny(data[:p], "\r\n") + 1
}

// wordStart returns the start of the word p is in.
func wordStart(data []byte, p int) int {
	for p > 0 && !strings.ContainsRune(" \t\r\n,[]{}", rune(data[p-1])) {
		p--
	}
	return p
}

// keyStart returns the start of the key that the ":" at p ends.
func keyStart(data []byte, p int) int {
	q := p
	for q > 0 && (data[q-1] == ' ' || data[q-1] == '\t') {
		q--
	}
	ls := lineStart(data, q)
	if q > ls && (data[q-1] == '"' || data[q-1] == '\'') {
		if o := bytes.LastIndexByte(data[ls:q-1], data[q-1]); o >= 0 {
			return ls + o
		}
		return p
	}
	// After the last indicator that can come before a key on the line.
	b := ls
	for j := ls; j < q; j++ {
		switch c := data[j]; {
		case c == ',' || c == '[' || c == '{':
			b = j + 1
		case (c == '-' || c == '?' || c == ':') && j+1 < q && (data[j+1] == ' ' || data[j+1] == '\t') &&
			(c == ':' || j == ls || data[j-1] == ' ' || data[j-1] == '\t'):
			b = j + 2
		}
	}
	for b < q && (data[b] == ' ' || data[b] == '\t') {
		b++
	}
	if b == q {
		return p
	}
	return b
}
