package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// Load reads every *.yaml and *.yml file under dir (recursively; hidden
// entries, testdata directories and *_test.yaml rule tests are skipped),
// compiles the rules and lists, and returns the set. Loading is all-or-nothing:
// on any problem it returns a *LoadError listing every problem found, each as
// "path:line:col: message", and no rules. A nil registry means the built-in
// actions. A rule whose worst-case work on a maximal incident is over the
// cost budget is a load error (WithCostBudget, WithInputBounds).
func Load(dir string, reg *actions.Registry, opts ...Option) (*RuleSet, error) {
	return LoadFS(os.DirFS(dir), ".", dir, reg, opts...)
}

// LoadFS is Load over a file system: root is the directory inside fsys and
// display the name that messages show for it.
func LoadFS(fsys fs.FS, root, display string, reg *actions.Registry, opts ...Option) (*RuleSet, error) {
	if reg == nil {
		reg = actions.Builtin()
	}
	l := &loader{fsys: fsys, root: root, display: display, reg: reg, lists: Lists{}, listAt: map[string]Pos{},
		opts: loadOptions{bounds: DefaultBounds(), budget: DefaultCostBudget}}
	for _, o := range opts {
		o(&l.opts)
	}
	files, err := ruleFiles(fsys, root)
	if err != nil {
		return nil, &LoadError{Errors: []Error{{Pos: Pos{File: display, Line: 1, Col: 1}, Msg: err.Error()}}}
	}
	if len(files) == 0 {
		return nil, &LoadError{Errors: []Error{{Pos: Pos{File: display, Line: 1, Col: 1}, Msg: "no rule files (*.yaml, *.yml) found"}}}
	}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		src := newSource(l.name(f), f, data)
		if err != nil {
			l.errorAt(src.at(nil), "%v", err)
			continue
		}
		l.files = append(l.files, src.name)
		l.parseFile(src, data)
	}
	return l.finish()
}

// IsRuleFile reports whether a file name is a rule file (not a rule test).
func IsRuleFile(name string) bool {
	ext := path.Ext(name)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test") && !strings.HasPrefix(name, ".")
}

// maxDirDepth bounds directory nesting, so that a symbolic link loop is an
// error instead of a hang.
const maxDirDepth = 32

// ruleFiles lists the rule files under root in lexical order. Symbolic links
// to directories are followed: a Kubernetes ConfigMap volume presents its
// subdirectories as links into its hidden ..data directory.
func ruleFiles(fsys fs.FS, root string) ([]string, error) {
	var files []string
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > maxDirDepth {
			return fmt.Errorf("%s: directories nested more than %d deep (a symbolic link loop?)", dir, maxDirDepth)
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return err
		}
		for _, d := range entries {
			p := path.Join(dir, d.Name())
			isDir := d.IsDir()
			if d.Type()&fs.ModeSymlink != 0 {
				if fi, err := fs.Stat(fsys, p); err == nil {
					isDir = fi.IsDir()
				}
			}
			switch {
			case isDir && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata"):
			case isDir:
				if err := walk(p, depth+1); err != nil {
					return err
				}
			case IsRuleFile(d.Name()):
				files = append(files, p)
			}
		}
		return nil
	}
	err := walk(root, 0)
	sort.Strings(files)
	return files, err
}

// Option changes how Load and LoadFS load rules.
type Option func(*loadOptions)

type loadOptions struct {
	bounds Bounds
	budget float64 // steps
}

type loader struct {
	opts    loadOptions
	fsys    fs.FS
	root    string
	display string
	reg     *actions.Registry
	files   []string
	lists   Lists
	listAt  map[string]Pos
	raws    []*rawRule
	errs    []Error
	warns   []Warning // found while loading; kept only when it succeeds
}

// name turns a path in fsys into the name messages show.
func (l *loader) name(p string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(p, l.root), "/")
	if l.root == "." {
		rel = p
	}
	return filepath.Join(l.display, filepath.FromSlash(rel))
}

func (l *loader) errorAt(p Pos, format string, args ...any) {
	l.errs = append(l.errs, Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) parseFile(src *source, data []byte) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			p := src.at(nil)
			var msg string
			p.Line, p.Col, msg = YAMLSyntaxError(err, data)
			l.errorAt(p, "%s", msg)
			return
		}
		l.parseDocument(src, &doc)
	}
}

// finish compiles the parsed rules against the lists and checks the set.
func (l *loader) finish() (*RuleSet, error) {
	c := &compiler{lists: l.lists, fields: incidentFields(), cost: newCostModel(l.opts, l.lists)}
	rs := &RuleSet{lists: l.lists, files: l.files, registry: l.reg, fields: c.fields}
	byID := map[string]Pos{}
	byOrder := map[int]*rawRule{}
	for i, done := range l.compileAll(c, l.raws) {
		raw, r := l.raws[i], done.rule
		l.errs = append(l.errs, done.errs...)
		if raw.id != "" {
			if at, dup := byID[raw.id]; dup {
				l.errorAt(raw.src.at(raw.idNode), "rule id %q is already used at %s", raw.id, at)
			} else {
				byID[raw.id] = raw.src.at(raw.idNode)
			}
		}
		if raw.orderNode != nil {
			if other, dup := byOrder[raw.order]; dup {
				l.errorAt(raw.src.at(raw.orderNode), "order %d is already used by rule %q at %s; every rule needs its own order",
					raw.order, other.id, other.src.at(other.orderNode))
			} else {
				byOrder[raw.order] = raw
			}
		}
		if r != nil {
			rs.rules = append(rs.rules, r)
		}
	}
	if len(l.errs) > 0 {
		e := &LoadError{Errors: l.errs}
		e.sort()
		return nil, e
	}
	sort.SliceStable(rs.rules, func(i, j int) bool { return rs.rules[i].Order < rs.rules[j].Order })
	rs.prev = c.prev
	for f := range c.prev.fields {
		rs.prevFields = append(rs.prevFields, f)
	}
	sort.Strings(rs.prevFields)
	if rs.prev.whole || len(rs.prevFields) > 0 {
		rs.project = incident.Projector(rs.prevFields, rs.prev.whole)
	}
	rs.index = buildIndex(rs.rules, rs.lists)
	rs.warnings = append(l.warns, unusedLists(l.listAt, c.listsRead)...)
	return rs, nil
}
