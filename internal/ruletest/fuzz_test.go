package ruletest_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/ruletest"
)

// FuzzLoad checks ruletest.Load on any test file next to the fixtures (as
// testdata/*.json): it never panics; a failure returns no cases and its
// first line, and every line that starts with the file, is a
// "path:line:col: message" inside the file; the cases it returns are whole
// (a name, a file:line position inside the file, an event with its incident,
// named rules and registered actions with declared parameters); and running
// them against the starter rules never panics and fails exactly the cases it
// shows a diff for.
func FuzzLoad(f *testing.F) {
	names, err := filepath.Glob("../../rules/*_test.yaml")
	if err != nil || len(names) == 0 {
		f.Fatalf("no rule tests in ../../rules: %v", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, seed := range []string{
		"",
		"tests: []\n",
		"tests:\n  - event: testdata/ransomware-created.json\n    now: 2026-11-21T00:00:00Z\n    expect: {matches: [], errors: [r]}\n",
		"tests:\n  - event: testdata/thin-reference.json\n  - event: testdata/nope.json\n  - name: x\n",
		"tests:\n  - event: {file: testdata/bare-incident.json, set: {severity: high, customTags: [a, 2026-01-01T00:00:00Z]}}\n    previous: testdata/bare-incident.json\n    expect: {matches: []}\n",
		"tests:\n  - event: {file: testdata/bare-incident.json, set: {sevrity: high}}\n    previus: testdata/bare-incident.json\n    now: 2031-01-01\n    expect: {matchs: []}\n",
		"tests:\n  - &c\n    event: testdata/ransomware-created.json\n    expect: {matches: [r]}\n  - <<: *c\n    now: 2031-01-01\n---\ntests:\n  - <<: [*c, {name: x}]\n",
		"tests:\n  - name: x\n    expect: { matches: [a, b }\n",
		"tests:\r  - name: \"x\r\t- y: [\n",
		"tests:\n  - event: {id: \"77\", status: active, severity: high, createdDateTime: 2026-01-01T00:00:00Z}\n" +
			"    expect:\n      matches:\n        - rule: r\n          actions: [{tag: [a, b]}, {block_file_hash: {hashes: x}}, {assign: ~}, {nope: 1}, [x]]\n        - {actions: []}\n        - [x]\n        - {rule: y, extra: 1}\n",
		"tests:\n  - event: [x]\n    now: yesterday\n",
		"tests: {a: 1}\n",
		"tests:\n  - event: testdata/ransomware-created.json\n    expect: {matches: {x: 1}}\n",
		"tests:\n- event: \"\\t\"\n",
		"tests: [\n",
	} {
		f.Add([]byte(seed))
	}
	reg := actions.Builtin()
	rs, err := rules.Load("../../rules", reg)
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "testdata"), 0o755); err != nil {
		f.Fatal(err)
	}
	for _, name := range fixtures.Names() {
		if err := os.WriteFile(filepath.Join(dir, "testdata", name), fixtures.Read(name), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	// An absolute path.
	f.Add([]byte("tests:\n  - event: " + filepath.Join(dir, "testdata", "ransomware-created.json") + "\n    expect: {matches: []}\n"))
	file := filepath.Join(dir, "a_test.yaml")
	position := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:(\d+):(\d+): `)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Each input replaces the one test file; the inputs of one process
		// run one at a time.
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		inFile := func(line string) bool {
			n, err := strconv.Atoi(line)
			return err == nil && n >= 1 && n <= lines
		}
		cases, err := ruletest.Load(dir, reg)
		if err != nil {
			if cases != nil {
				t.Fatalf("%d cases returned with an error", len(cases))
			}
			msg := err.Error()
			if m := position.FindStringSubmatch(msg); m == nil || !inFile(m[1]) || m[2] == "0" {
				t.Fatalf("error without a position in the file (%d lines): %v", lines, err)
			}
			for _, l := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(l, file+":") {
					continue // the rest of a multi-line message
				}
				if m := position.FindStringSubmatch(l); m == nil || !inFile(m[1]) || m[2] == "0" {
					t.Fatalf("error line without a position in the file (%d lines): %q", lines, l)
				}
			}
			return
		}
		for _, c := range cases {
			line, ok := strings.CutPrefix(c.Pos, file+":")
			if !ok || !inFile(line) {
				t.Fatalf("case %q at %q: not a position in %s (%d lines)", c.Name, c.Pos, file, lines)
			}
			if c.Name == "" {
				t.Fatalf("case at %s without a name", c.Pos)
			}
			if c.Event == nil || c.Event.Incident == nil || c.Event.IncidentID == "" || c.Event.Thin() {
				t.Fatalf("case %s: event without its incident: %+v", c.Pos, c.Event)
			}
			for _, m := range c.Matches {
				if m.Rule == "" {
					t.Fatalf("case %s: an expected match without a rule", c.Pos)
				}
				for _, a := range m.Actions {
					act, ok := reg.Lookup(a.Type)
					if !ok {
						t.Fatalf("case %s: unknown action %q", c.Pos, a.Type)
					}
					for p := range a.Params {
						if _, ok := act.Spec().Param(p); !ok {
							t.Fatalf("case %s: %s has no parameter %q", c.Pos, a.Type, p)
						}
					}
				}
			}
		}
		results := ruletest.Run(rs, cases)
		if len(results) != len(cases) {
			t.Fatalf("%d results for %d cases", len(results), len(cases))
		}
		for _, r := range results {
			if r.Pass != (r.Diff == "") {
				t.Fatalf("case %s: pass %v with diff %q", r.Case.Pos, r.Pass, r.Diff)
			}
		}
	})
}
