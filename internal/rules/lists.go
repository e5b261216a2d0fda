package rules

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

var (
	listNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// parseLists reads `lists:`: each entry is an inline sequence or {file: PATH},
// PATH relative to the rule file. List names are global to the rule set.
func (l *loader) parseLists(src *source, n *yaml.Node) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errorAt(src.at(n), "lists: want a mapping of list names to values")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		name := key.Value
		if !listNameRe.MatchString(name) {
			l.errorAt(src.at(key), "list name %q: use letters, digits and '_' (it is used as lists.%s)", name, name)
			continue
		}
		if at, dup := l.listAt[name]; dup {
			l.errorAt(src.at(key), "list %q is already defined at %s", name, at)
			continue
		}
		l.listAt[name] = src.at(key)
		var values []listValue
		switch val.Kind {
		case yaml.SequenceNode:
			for _, it := range val.Content {
				if it.Kind != yaml.ScalarNode || isNull(it) {
					l.errorAt(src.at(it), "lists.%s: items must be strings", name)
					continue
				}
				values = append(values, listValue{text: it.Value, pos: src.at(it)})
			}
		case yaml.MappingNode:
			values = l.listFile(src, name, val)
		default:
			l.errorAt(src.at(val), "lists.%s: want a list of values or {file: PATH}", name)
			continue
		}
		l.lists[name] = l.listSet(name, values)
	}
}

// listValue is one value of a list as written, and where.
type listValue struct {
	text string
	pos  Pos
}

// listSet builds a list's set, noting a warning for each value that repeats
// an earlier one once normalised.
func (l *loader) listSet(name string, values []listValue) Set {
	set := make(Set, len(values))
	first := make(map[string]Pos, len(values))
	for _, v := range values {
		norm := normalizeListValue(v.text)
		if at, dup := first[norm]; dup {
			why := ""
			if norm != strings.TrimSpace(v.text) {
				why = " (hashes are compared in lower case)"
			}
			l.warns = append(l.warns, Warning{Pos: v.pos, Msg: fmt.Sprintf("lists.%s: %q is listed twice (first at %s)%s", name, norm, at, why)})
			continue
		}
		first[norm] = v.pos
		set[norm] = struct{}{}
	}
	return set
}

// normalizeListValue lower-cases hex hashes (MD5, SHA-1, SHA-256), which
// fileHashes() returns lower-case; other values are kept as written.
func normalizeListValue(v string) string {
	v = strings.TrimSpace(v)
	if isHexHash(v) {
		return strings.ToLower(v)
	}
	return v
}

// isHexHash reports whether v is an MD5, SHA-1 or SHA-256 in hex: 32, 40 or
// 64 hex digits. (A loop, not a regular expression: lists of thousands of
// hashes are normalised at every load.)
func isHexHash(v string) bool {
	if len(v) != 32 && len(v) != 40 && len(v) != 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func (l *loader) listFile(src *source, name string, m *yaml.Node) []listValue {
	var fileNode *yaml.Node
	l.eachKey(src, m, []string{"file"}, func(key, val *yaml.Node) { fileNode = val })
	if fileNode == nil {
		if !hasKey(m, "file") {
			l.errorAt(src.at(m), "lists.%s: file missing", name)
		}
		return nil
	}
	ref := fileNode.Value
	if strings.HasPrefix(ref, "/") {
		l.errorAt(src.at(fileNode), "lists.%s: file %q must be relative to the rule file", name, ref)
		return nil
	}
	p := path.Clean(path.Join(path.Dir(src.path), ref))
	if !fs.ValidPath(p) {
		l.errorAt(src.at(fileNode), "lists.%s: file %q is outside the rules directory", name, ref)
		return nil
	}
	data, err := fs.ReadFile(l.fsys, p)
	if err != nil {
		l.errorAt(src.at(fileNode), "lists.%s: %v", name, err)
		return nil
	}
	values, err := parseListFile(data, l.name(p))
	if err != nil {
		l.errorAt(src.at(fileNode), "lists.%s: %s: %v", name, p, err)
	}
	return values
}

// parseListFile reads one value a line, each with its position in the file
// named file; blank lines and # comments (a whole line, or after a space) are
// skipped.
func parseListFile(data []byte, file string) ([]listValue, error) {
	var out []listValue
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if i := strings.Index(line, "\t#"); i >= 0 {
			line = line[:i]
		}
		value := strings.TrimSpace(line)
		if value == "" || strings.HasPrefix(value, "#") {
			continue
		}
		col := utf8.RuneCountInString(line[:len(line)-len(strings.TrimLeft(line, " \t"))]) + 1
		out = append(out, listValue{text: value, pos: Pos{File: file, Line: n, Col: col}})
	}
	return out, sc.Err()
}
