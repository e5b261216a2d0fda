package rules

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are yaml.v3's parser (not scanner) problems. yaml.v3
// numbers their lines from 0 (its scanner errors from 1), so they read one
// line early.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// YAMLSyntaxError reads a yaml.v3 syntax error of data: the 1-based line
// it points at, the column of that line's first character, and the message
// without yaml.v3's prefixes. Line is 1 when the error names no line.
func YAMLSyntaxError(err error, data []byte) (line, col int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	line = 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		msg = m[2]
		line = max(n, 1)
		for _, p := range parserProblems {
			if msg == p {
				line = n + 1
				break
			}
		}
	}
	lines := bytes.Split(data, []byte("\n"))
	// An error at the end of the file (an unclosed bracket) points at the
	// last line with text.
	for len(lines) > 1 && len(bytes.TrimSpace(lines[len(lines)-1])) == 0 {
		lines = lines[:len(lines)-1]
	}
	line = min(line, max(len(lines), 1))
	if strings.Contains(msg, "tab character") {
		// Reported at the token before: point at the tab.
		for i := line - 1; i < len(lines); i++ {
			indent := lines[i][:len(lines[i])-len(bytes.TrimLeft(lines[i], " \t"))]
			if t := bytes.IndexByte(indent, '\t'); t >= 0 {
				return i + 1, t + 1, msg
			}
		}
	}
	col = 1
	if line <= len(lines) {
		text := []rune(string(lines[line-1]))
		for col <= len(text) && text[col-1] == ' ' {
			col++
		}
		col = min(col, max(len(text), 1))
	}
	return line, col, msg
}
