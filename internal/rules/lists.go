package rules

import (
	"bufio"
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	listNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hexHashRe  = regexp.MustCompile(`^([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)
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
		var values []string
		switch val.Kind {
		case yaml.SequenceNode:
			for _, it := range val.Content {
				if it.Kind != yaml.ScalarNode || isNull(it) {
					l.errorAt(src.at(it), "lists.%s: items must be strings", name)
					continue
				}
				values = append(values, it.Value)
			}
		case yaml.MappingNode:
			values = l.listFile(src, name, val)
		default:
			l.errorAt(src.at(val), "lists.%s: want a list of values or {file: PATH}", name)
			continue
		}
		set := make(Set, len(values))
		for _, v := range values {
			set[normalizeListValue(v)] = struct{}{}
		}
		l.lists[name] = set
	}
}

// normalizeListValue lower-cases hex hashes (MD5, SHA-1, SHA-256), which
// fileHashes() returns lower-case; other values are kept as written.
func normalizeListValue(v string) string {
	v = strings.TrimSpace(v)
	if hexHashRe.MatchString(v) {
		return strings.ToLower(v)
	}
	return v
}

func (l *loader) listFile(src *source, name string, m *yaml.Node) []string {
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
	values, err := parseListFile(data)
	if err != nil {
		l.errorAt(src.at(fileNode), "lists.%s: %s: %v", name, p, err)
	}
	return values
}

// parseListFile reads one value a line; blank lines and # comments (a whole
// line, or after a space) are skipped.
func parseListFile(data []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if i := strings.Index(line, "\t#"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}
