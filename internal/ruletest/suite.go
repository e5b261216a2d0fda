// Package ruletest runs rule tests: YAML files (*_test.yaml) of cases, each an
// event (a file or inline), optionally the previous incident and the time, and
// the expected plan (the matching rules, optionally with their actions).
//
//	tests:
//	  - name: red-team devices close the incident
//	    event: testdata/redteam-created.json     # relative to this file, or absolute
//	    previous: { file: testdata/redteam-created.json, set: { status: active } }
//	    now: 2026-11-21T00:00:00Z                # or a date: 2026-11-21 (midnight UTC)
//	    expect:
//	      matches:
//	        - rule: close-red-team-tests
//	          actions:
//	            - set_status: resolved
//	        - tag-everything                      # a rule id alone: actions not checked
//	      errors: []                              # rules expected to fail at run time
//
// Files are read strictly: an unknown key is an error (with the nearest known
// one), as is a case without expect (expect: {matches: []} expects no match);
// the keys of set are the incident's properties as Graph names them.
package ruletest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
	// Approval: the action is expected held for approval (`approval:
	// required` beside its parameters, as in the rule).
	Approval bool
}

// Load reads every *_test.yaml / *_test.yml file under dir (recursively,
// hidden entries skipped). Problems are returned together, one per line as
// "path:line:col: message".
func Load(dir string, reg *actions.Registry) ([]*Case, error) {
	info, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", dir, pe.Err)
		}
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
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
	l := &loader{reg: reg}
	var cases []*Case
	for _, f := range files {
		cases = append(cases, l.file(f)...)
	}
	if len(l.errs) > 0 {
		return nil, errors.New(strings.Join(l.errs, "\n"))
	}
	return cases, nil
}

func isTestFile(name string) bool {
	return strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml")
}

type loader struct {
	reg  *actions.Registry
	errs []string
}

// fileLoader reads one test file.
type fileLoader struct {
	*loader
	src  *source
	errs []fileError
}

type fileError struct {
	off int
	msg string
}

func (f *fileLoader) errorf(n *yaml.Node, format string, args ...any) {
	off := 0
	if n != nil {
		off = f.src.offset(n.Line, n.Column)
	}
	f.errorAt(off, format, args...)
}

func (f *fileLoader) errorAt(off int, format string, args ...any) {
	f.errs = append(f.errs, fileError{off, fmt.Sprintf(format, args...)})
}

// file reads a test file; its problems go to l.errs in the order of the file.
func (l *loader) file(name string) []*Case {
	data, err := os.ReadFile(name)
	if err != nil {
		l.errs = append(l.errs, fmt.Sprintf("%s:1:1: %v", name, err))
		return nil
	}
	f := &fileLoader{loader: l, src: newSource(name, data)}
	cases := f.read()
	slices.SortStableFunc(f.errs, func(a, b fileError) int { return cmp.Compare(a.off, b.off) })
	seen := map[string]bool{}
	for _, e := range f.errs {
		// A mistake in a mapping merged (<<: *name) in many places once.
		if line := f.src.pos(e.off) + ": " + e.msg; !seen[line] {
			seen[line] = true
			l.errs = append(l.errs, line)
		}
	}
	if len(f.errs) > 0 {
		return nil
	}
	return cases
}

func (f *fileLoader) read() []*Case {
	data := f.src.data
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		f.errorAt(off, "not UTF-8 text")
		return nil
	}
	docs, err := parse(data)
	if err != nil {
		off, msg := syntaxError(data, err)
		f.errorAt(off, "%s", msg)
		return nil
	}
	var cases []*Case
	for _, doc := range docs {
		if len(doc.Content) == 0 || isNull(doc.Content[0]) {
			continue
		}
		if expandedSize(doc, map[*yaml.Node]int{}) >= maxExpanded {
			f.errorf(doc.Content[0], "this document's aliases name too much (over %d values)", maxExpanded)
			continue
		}
		root := resolve(doc.Content[0])
		if root.Kind != yaml.MappingNode {
			f.errorf(root, "a test file is a mapping: tests: [...]")
			continue
		}
		got, _ := f.fields(root, "tests")
		tests, ok := got["tests"]
		if !ok || isNull(tests.val) {
			continue
		}
		seq := resolve(tests.val)
		if seq.Kind != yaml.SequenceNode {
			f.errorf(tests.val, "tests: want a list of cases")
			continue
		}
		for _, item := range seq.Content {
			if c := f.testCase(item, len(cases)+1); c != nil {
				cases = append(cases, c)
			}
		}
	}
	return cases
}

// testCase reads one item of tests: (the n-th case of the file), or returns
// nil after reporting its problems.
func (f *fileLoader) testCase(item *yaml.Node, n int) *Case {
	at := item
	c := &Case{Name: fmt.Sprintf("case %d", n), Pos: fmt.Sprintf("%s:%d", f.src.name, f.src.line(at))}
	item = resolve(item)
	if item.Kind != yaml.MappingNode {
		f.errorf(at, "a case is a mapping with name, event and expect")
		return nil
	}
	before := len(f.errs)
	got, suggested := f.fields(item, "name", "event", "previous", "now", "expect")
	if p, ok := got["name"]; ok {
		if v := resolve(p.val); v.Kind == yaml.ScalarNode && !isNull(v) {
			if v.Value != "" {
				c.Name = v.Value
			}
		} else {
			f.errorf(p.val, "name: want a text")
		}
	}
	if p, ok := got["event"]; ok {
		c.Event = f.event("event", p.val)
	} else if !suggested["event"] {
		f.errorf(at, "event missing")
	}
	if p, ok := got["previous"]; ok {
		if ev := f.event("previous", p.val); ev != nil {
			c.Previous = ev.Incident
		}
	}
	if p, ok := got["now"]; ok {
		c.Now = f.now(p.val)
	}
	if p, ok := got["expect"]; ok {
		f.expect(c, p)
	} else if !suggested["expect"] {
		f.errorf(at, "expect missing: write expect: {matches: []} to expect no match")
	}
	if len(f.errs) > before {
		return nil
	}
	return c
}

// now reads now: an RFC 3339 time, or a date for its midnight UTC.
func (f *fileLoader) now(n *yaml.Node) time.Time {
	v := resolve(n)
	if v.Kind == yaml.ScalarNode && !isNull(v) {
		if t, err := time.Parse(time.RFC3339, v.Value); err == nil {
			return t
		}
		if t, err := time.Parse(time.DateOnly, v.Value); err == nil {
			return t
		}
	}
	f.errorf(n, "now: %s is not a time: want RFC 3339 (2026-11-21T09:30:00Z) or a date (2026-11-21, midnight UTC)", describe(v))
	return time.Time{}
}

// describe quotes a scalar's value, or names the kind of another node.
func describe(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return fmt.Sprintf("%q", n.Value)
	}
	return "a " + kindName(n)
}

// expect reads expect: {matches: [...], errors: [...]}.
func (f *fileLoader) expect(c *Case, p pair) {
	const hint = "write expect: {matches: []} to expect no match"
	n := resolve(p.val)
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			f.errorf(p.key, "expect is empty: %s", hint)
		} else {
			f.errorf(p.val, "expect: want a mapping {matches: [...]}, not %s", describe(n))
		}
		return
	}
	got, suggested := f.fields(n, "matches", "errors")
	if m, ok := got["matches"]; ok {
		seq := resolve(m.val)
		if seq.Kind == yaml.SequenceNode {
			c.Matches = []ExpectedMatch{}
			for _, item := range seq.Content {
				if em, ok := f.expectedMatch(item); ok {
					c.Matches = append(c.Matches, em)
				}
			}
		} else {
			f.errorf(m.val, "expect.matches: want a list of rule ids, not %s (matches: [] expects no match)", describe(seq))
		}
	} else if !suggested["matches"] {
		f.errorf(p.key, "expect.matches missing: %s", hint)
	}
	if e, ok := got["errors"]; ok {
		seq := resolve(e.val)
		if seq.Kind != yaml.SequenceNode {
			f.errorf(e.val, "expect.errors: want a list of rule ids, not %s", describe(seq))
			return
		}
		c.Errors = []string{}
		for _, item := range seq.Content {
			if v := resolve(item); v.Kind == yaml.ScalarNode && !isNull(v) && v.Value != "" {
				c.Errors = append(c.Errors, v.Value)
			} else {
				f.errorf(item, "expect.errors: want a rule id, not %s", describe(v))
			}
		}
	}
}

// event reads event: or previous: (what): a path (relative to the test file,
// or absolute), an inline event/incident mapping, or {file: PATH, set:
// {property: value}} to change properties of the incident in a file.
func (f *fileLoader) event(what string, at *yaml.Node) *incident.Event {
	n := resolve(at)
	var raw []byte
	switch {
	case n.Kind == yaml.ScalarNode && !isNull(n) && n.Value != "":
		b, err := f.readFile(n.Value)
		if err != nil {
			f.errorf(at, "%s: %v", what, err)
			return nil
		}
		raw = b
	case n.Kind == yaml.MappingNode && (hasKey(n, "file") || hasKey(n, "set")):
		b, ok := f.fileWithSet(what, at, n)
		if !ok {
			return nil
		}
		raw = b
	case n.Kind == yaml.MappingNode:
		var v any
		if err := n.Decode(&v); err != nil {
			f.errorf(at, "%s: %s", what, decodeError(err))
			return nil
		}
		b, err := json.Marshal(jsonable(v))
		if err != nil {
			f.errorf(at, "%s: %v", what, err)
			return nil
		}
		raw = b
	default:
		f.errorf(at, "%s: want a file path, an inline event or {file: PATH, set: {...}}, not %s", what, describe(n))
		return nil
	}
	ev, err := incident.Decode(raw)
	if err != nil {
		f.errorf(at, "%v", err)
		return nil
	}
	if ev.Thin() {
		f.errorf(at, "%s %s names incident %s without its data; rule tests need the whole incident", what, ev.ID, ev.IncidentID)
		return nil
	}
	return ev
}

// fileWithSet reads {file: PATH, set: {property: value}}.
func (f *fileLoader) fileWithSet(what string, at, n *yaml.Node) ([]byte, bool) {
	before := len(f.errs)
	got, suggested := f.fields(n, "file", "set")
	var doc []byte
	if p, ok := got["file"]; !ok {
		if !suggested["file"] {
			f.errorf(at, "%s: file missing: set changes the incident of a file", what)
		}
	} else if v := resolve(p.val); v.Kind != yaml.ScalarNode || isNull(v) || v.Value == "" {
		f.errorf(p.val, "%s: file: want a path, not %s", what, describe(v))
	} else {
		b, err := f.readFile(v.Value)
		if err != nil {
			f.errorf(p.val, "%s: %v", what, err)
		}
		doc = b
	}
	set := map[string]any{}
	if p, ok := got["set"]; ok {
		m := resolve(p.val)
		if m.Kind != yaml.MappingNode {
			f.errorf(p.val, "%s: set: want a mapping of incident properties, not %s", what, describe(m))
		} else {
			fields := incidentFields()
			for _, kv := range f.pairs(m) {
				name := kv.key.Value
				if !slices.Contains(fields, name) {
					if s := actions.Closest(name, fields); s != "" {
						f.errorf(kv.key, "unknown incident field %q (did you mean %q?)", name, s)
					} else {
						f.errorf(kv.key, "unknown incident field %q (want one of %s)", name, strings.Join(fields, ", "))
					}
					continue
				}
				var v any
				if err := kv.val.Decode(&v); err != nil {
					f.errorf(kv.val, "%s: set: %s", what, decodeError(err))
					continue
				}
				set[name] = v
			}
		}
	}
	if len(f.errs) > before {
		return nil, false
	}
	raw, err := override(doc, set)
	if err != nil {
		f.errorf(at, "%s: %v", what, err)
		return nil, false
	}
	return raw, true
}

// readFile reads a file named in a test file: relative to the test file,
// unless absolute.
func (f *fileLoader) readFile(name string) ([]byte, error) {
	p := filepath.FromSlash(name)
	if !filepath.IsAbs(p) {
		p = filepath.Join(filepath.Dir(f.src.name), p)
	}
	return os.ReadFile(p)
}

// incidentFields are the properties of an incident as Graph names them (the
// JSON names of incident.Incident), the keys set may change.
var incidentFields = sync.OnceValue(func() []string {
	t := reflect.TypeFor[incident.Incident]()
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
})

// decodeError is a yaml.v3 decoding error without its "yaml: " and lines.
func decodeError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return yamlLine.ReplaceAllString("yaml: "+te.Errors[0], "")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
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

// jsonable turns YAML-decoded values (time.Time timestamps, mappings with
// keys other than strings) into JSON ones.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
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
