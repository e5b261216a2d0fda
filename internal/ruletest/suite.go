// Package ruletest runs rule tests: YAML files (*_test.yaml) of cases, each an
// event (a file or inline), optionally the previous incident and the time, and
// the expected plan (the matching rules, optionally with their actions).
//
//	tests:
//	  - name: red-team devices close the incident
//	    event: testdata/redteam-created.json     # relative to this file
//	    expect:
//	      matches:
//	        - rule: close-red-team-tests
//	          actions:
//	            - set_status: resolved
//	        - tag-everything                      # a rule id alone: actions not checked
package ruletest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// Case is one rule test.
type Case struct {
	Name     string
	Pos      string // file:line of the case
	Event    *incident.Event
	Previous *incident.Incident
	Now      time.Time
	// Matches are the expected matching rules in order; nil Actions means the
	// rule's actions are not checked.
	Matches []ExpectedMatch
	// Errors are the rule ids expected to fail at run time.
	Errors []string
}

// ExpectedMatch is one expected matching rule.
type ExpectedMatch struct {
	Rule    string
	Actions []ExpectedAction // nil: not checked
}

// ExpectedAction is an expected action with its parameters.
type ExpectedAction struct {
	Type   string
	Params actions.Params
}

// Load reads every *_test.yaml / *_test.yml file under dir (recursively,
// hidden entries skipped). Problems are returned together, one per line as
// "path:line:col: message".
func Load(dir string, reg *actions.Registry) ([]*Case, error) {
	fsys := os.DirFS(dir)
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && strings.HasPrefix(d.Name(), ".") {
			return fs.SkipDir
		}
		if !d.IsDir() && isTestFile(d.Name()) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	l := &loader{fsys: fsys, dir: dir, reg: reg}
	var cases []*Case
	for _, f := range files {
		cases = append(cases, l.file(f)...)
	}
	if len(l.errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(l.errs, "\n"))
	}
	return cases, nil
}

func isTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml")
}

type loader struct {
	fsys fs.FS
	dir  string
	reg  *actions.Registry
	errs []string
}

func (l *loader) errorf(file string, n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	l.errs = append(l.errs, fmt.Sprintf("%s:%d:%d: %s", filepath.Join(l.dir, file), line, col, fmt.Sprintf(format, args...)))
}

// testFile is the YAML shape of a test file.
type testFile struct {
	Tests []struct {
		Name     string    `yaml:"name"`
		Event    yaml.Node `yaml:"event"`
		Previous yaml.Node `yaml:"previous"`
		Now      string    `yaml:"now"`
		Expect   struct {
			Matches []yaml.Node `yaml:"matches"`
			Errors  []string    `yaml:"errors"`
		} `yaml:"expect"`
		node *yaml.Node
	} `yaml:"tests"`
}

func (l *loader) file(name string) []*Case {
	data, err := fs.ReadFile(l.fsys, name)
	if err != nil {
		l.errorf(name, nil, "%v", err)
		return nil
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		l.errorf(name, nil, "%v", err)
		return nil
	}
	var tf testFile
	if err := root.Decode(&tf); err != nil {
		l.errorf(name, nil, "%v", err)
		return nil
	}
	positions := casePositions(&root)
	var out []*Case
	for i, t := range tf.Tests {
		at := positions[i]
		c := &Case{Name: t.Name, Pos: fmt.Sprintf("%s:%d", filepath.Join(l.dir, name), at.Line)}
		if c.Name == "" {
			c.Name = fmt.Sprintf("case %d", i+1)
		}
		before := len(l.errs)
		c.Event = l.event(name, &t.Event, at)
		if t.Previous.Kind != 0 {
			if ev := l.event(name, &t.Previous, &t.Previous); ev != nil {
				c.Previous = ev.Incident
			}
		}
		if t.Now != "" {
			now, err := time.Parse(time.RFC3339, t.Now)
			if err != nil {
				l.errorf(name, at, "now: %q is not an RFC 3339 time", t.Now)
			}
			c.Now = now
		}
		for j := range t.Expect.Matches {
			if m, ok := l.expectedMatch(name, &t.Expect.Matches[j]); ok {
				c.Matches = append(c.Matches, m)
			}
		}
		c.Errors = t.Expect.Errors
		if len(l.errs) == before {
			out = append(out, c)
		}
	}
	return out
}

// casePositions returns the node of each item of tests:, for positions.
func casePositions(root *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return out
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "tests" && m.Content[i+1].Kind == yaml.SequenceNode {
			out = append(out, m.Content[i+1].Content...)
		}
	}
	return out
}

// event reads an event: a path (relative to the test file), an inline
// event/incident mapping, or {file: PATH, set: {property: value}} to change
// properties of the incident in a file.
func (l *loader) event(file string, n *yaml.Node, at *yaml.Node) *incident.Event {
	var raw []byte
	switch {
	case n.Kind == 0:
		l.errorf(file, at, "event missing")
		return nil
	case n.Kind == yaml.ScalarNode:
		b, err := fs.ReadFile(l.fsys, path.Join(path.Dir(file), n.Value))
		if err != nil {
			l.errorf(file, n, "event: %v", err)
			return nil
		}
		raw = b
	case n.Kind == yaml.MappingNode && hasKey(n, "file"):
		var ref struct {
			File string         `yaml:"file"`
			Set  map[string]any `yaml:"set"`
		}
		if err := n.Decode(&ref); err != nil {
			l.errorf(file, n, "event: %v", err)
			return nil
		}
		b, err := fs.ReadFile(l.fsys, path.Join(path.Dir(file), ref.File))
		if err != nil {
			l.errorf(file, n, "event: %v", err)
			return nil
		}
		if raw, err = override(b, ref.Set); err != nil {
			l.errorf(file, n, "event: %v", err)
			return nil
		}
	case n.Kind == yaml.MappingNode:
		var v any
		if err := n.Decode(&v); err != nil {
			l.errorf(file, n, "event: %v", err)
			return nil
		}
		b, err := json.Marshal(jsonable(v))
		if err != nil {
			l.errorf(file, n, "event: %v", err)
			return nil
		}
		raw = b
	default:
		l.errorf(file, n, "event: want a file path or a mapping")
		return nil
	}
	ev, err := incident.Decode(raw)
	if err != nil {
		l.errorf(file, n, "%v", err)
		return nil
	}
	if ev.Thin() {
		l.errorf(file, n, "event %s names incident %s without its data; rule tests need the whole incident", ev.ID, ev.IncidentID)
		return nil
	}
	return ev
}

// override sets top-level properties of the incident in an event document.
func override(doc []byte, set map[string]any) ([]byte, error) {
	if len(set) == 0 {
		return doc, nil
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	inc := m
	if d, ok := m["data"].(map[string]any); ok {
		inc = d
	}
	for k, v := range set {
		inc[k] = jsonable(v)
	}
	return json.Marshal(m)
}

// jsonable turns YAML-decoded values (time.Time timestamps) into JSON ones.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}
