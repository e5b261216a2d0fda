package ruletest_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/ruletest"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.TrimLeft(content, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const ruleFile = `
rules:
  - id: close-high
    order: 1
    when: incident.severity == "high" && (previous == nil || previous.severity != "high")
    actions:
      - set_status: resolved
      - comment: "{{ rule.id }} at {{ now() }}"
  - id: tag-all
    order: 2
    when: "true"
    actions:
      - tag: [seen]
`

func setup(t *testing.T, tests string) (*rules.RuleSet, string) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"r.yaml":                   ruleFile,
		"r_test.yaml":              tests,
		"testdata/ransomware.json": string(fixtures.Read("ransomware-created.json")),
	})
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs, dir
}

func TestRunPassingCases(t *testing.T) {
	t.Parallel()
	rs, dir := setup(t, `
tests:
  - name: full plan with a fixed now
    event: testdata/ransomware.json
    now: 2026-11-21T00:00:00Z
    expect:
      matches:
        - rule: close-high
          actions:
            - set_status: resolved
            - comment: "close-high at 2026-11-21T00:00:00Z"
        - tag-all
  - name: overridden property
    event: { file: testdata/ransomware.json, set: { severity: low } }
    expect:
      matches: [tag-all]
  - name: previous already high
    event: testdata/ransomware.json
    previous: testdata/ransomware.json
    expect:
      matches: [tag-all]
  - name: inline bare incident
    event: { id: "77", status: active, severity: high, createdDateTime: 2026-01-01T00:00:00Z, lastUpdateDateTime: 2026-01-01T00:00:00Z }
    expect:
      matches:
        - close-high
        - rule: tag-all
          actions: [{tag: seen}]
`)
	cases, err := ruletest.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 4 {
		t.Fatalf("%d cases", len(cases))
	}
	for _, r := range ruletest.Run(rs, cases) {
		if !r.Pass {
			t.Errorf("%s (%s) failed:\n%s", r.Case.Name, r.Case.Pos, r.Diff)
		}
	}
}

func TestRunFailingCaseShowsDiff(t *testing.T) {
	t.Parallel()
	rs, dir := setup(t, `
tests:
  - name: wrong
    event: testdata/ransomware.json
    expect:
      matches:
        - rule: close-high
          actions:
            - set_status: inProgress
        - tag-all
        - missing-rule
`)
	cases, err := ruletest.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	r := ruletest.Run(rs, cases)[0]
	if r.Pass {
		t.Fatal("a wrong expectation passed")
	}
	for _, want := range []string{
		"    match close-high\n",
		`  -   set_status {status: "inProgress"}` + "\n",
		`  +   set_status {status: "resolved"}` + "\n",
		"    match tag-all\n",
		"  - match missing-rule\n",
	} {
		if !strings.Contains(r.Diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, r.Diff)
		}
	}
	if !strings.HasSuffix(r.Case.Pos, "r_test.yaml:2") {
		t.Errorf("position %q", r.Case.Pos)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"a_test.yaml": `
tests:
  - name: missing file
    event: testdata/nope.json
    expect: { matches: [] }
  - name: no event
    expect: { matches: [x] }
  - name: bad expected action
    event: { id: "1", status: active, severity: low, createdDateTime: 2026-01-01T00:00:00Z, lastUpdateDateTime: 2026-01-01T00:00:00Z }
    expect:
      matches:
        - rule: x
          actions: [{close: now}]
  - name: thin
    event: { specversion: "1.0", id: e, type: com.microsoft.graph.security.incident.updated, data: { id: "1" } }
    expect: { matches: [] }
`})
	_, err := ruletest.Load(dir, actions.Builtin())
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"a_test.yaml:3:12: event: open " + filepath.Join(dir, "testdata", "nope.json") + ": no such file or directory",
		"a_test.yaml:5:5: event missing",
		`a_test.yaml:12:22: unknown action "close"`,
		"rule tests need the whole incident",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}

// loadErrors loads the test file a_test.yaml of content (beside the
// fixtures, as testdata/*.json) and returns its error lines with the
// directory left out: "a_test.yaml:line:col: message".
func loadErrors(t *testing.T, content string) []string {
	t.Helper()
	dir := fixtureDir(t)
	write(t, dir, map[string]string{"a_test.yaml": content})
	_, err := ruletest.Load(dir, actions.Builtin())
	if err == nil {
		return nil
	}
	return strings.Split(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "\n")
}

// fixtureDir returns a new directory with the fixtures in testdata/.
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for _, name := range fixtures.Names() {
		files["testdata/"+name] = string(fixtures.Read(name))
	}
	write(t, dir, files)
	return dir
}

func checkErrors(t *testing.T, got, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("errors lack %q:\n%s", w, strings.Join(got, "\n"))
		}
	}
	for _, w := range notWant {
		for _, g := range got {
			if strings.Contains(g, w) {
				t.Errorf("error %q has %q", g, w)
			}
		}
	}
}

// Unknown keys are errors, with the nearest known key, and so is a case
// without expect; all of a file's problems come together.
func TestLoadUnknownFields(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, content string
		want, notWant []string
	}{
		{
			name: "misspelt previous",
			content: `
tests:
  - event: testdata/ransomware-updated.json
    previus: testdata/ransomware-created.json
    expect: {matches: []}
`,
			want: []string{`a_test.yaml:3:5: unknown field "previus" (did you mean "previous"?)`},
		},
		{
			name: "misspelt matches",
			content: `
tests:
  - event: testdata/ransomware-created.json
    expect:
      matchs: []
`,
			want:    []string{`a_test.yaml:4:7: unknown field "matchs" (did you mean "matches"?)`},
			notWant: []string{"matches missing"},
		},
		{
			name: "expect missing",
			content: `
tests:
  - name: no expectation
    event: testdata/ransomware-created.json
`,
			want: []string{`a_test.yaml:2:5: expect missing: write expect: {matches: []} to expect no match`},
		},
		{
			name: "expect without matches",
			content: `
tests:
  - event: testdata/ransomware-created.json
    expect: {errors: [r]}
`,
			want: []string{`a_test.yaml:3:5: expect.matches missing: write expect: {matches: []} to expect no match`},
		},
		{
			name: "misspelt incident property in set",
			content: `
tests:
  - event: { file: testdata/ransomware-created.json, set: { sevrity: low, Status: resolved } }
    previous: { file: testdata/ransomware-created.json, set: { nothing: 1 } }
    expect: {matches: []}
`,
			want: []string{
				`a_test.yaml:2:61: unknown incident field "sevrity" (did you mean "severity"?)`,
				`a_test.yaml:2:75: unknown incident field "Status" (did you mean "status"?)`,
				`a_test.yaml:3:64: unknown incident field "nothing" (want one of @odata.type, id, tenantId, displayName, description, summary, status, severity, classification, determination, assignedTo, customTags, systemTags, incidentWebUrl, redirectIncidentId, resolvingComment, lastModifiedBy, createdDateTime, lastUpdateDateTime, comments, alerts)`,
			},
		},
		{
			name: "misspelt event",
			content: `
tests:
  - evnt: testdata/ransomware-created.json
    expect: {matches: []}
`,
			want:    []string{`a_test.yaml:2:5: unknown field "evnt" (did you mean "event"?)`},
			notWant: []string{"event missing"},
		},
		{
			name: "misspelt file",
			content: `
tests:
  - event: { fil: testdata/ransomware-created.json, set: { severity: low } }
    expect: {matches: []}
`,
			want:    []string{`a_test.yaml:2:14: unknown field "fil" (did you mean "file"?)`},
			notWant: []string{"file missing"},
		},
		{
			name: "set without file",
			content: `
tests:
  - event: { set: { severity: low } }
    expect: {matches: []}
`,
			want: []string{`a_test.yaml:2:12: event: file missing: set changes the incident of a file`},
		},
		{
			name: "unknown keys everywhere, reported together",
			content: `
test: []
tests:
  - event: testdata/ransomware-created.json
    colour: red
    expect:
      matches:
        - rule: r
          acions: []
        - {rule: s, actions: [{tag: {tagz: [x]}}]}
  - name: fine but for the others
    event: testdata/ransomware-created.json
    expect: {matches: []}
`,
			want: []string{
				`a_test.yaml:1:1: unknown field "test" (did you mean "tests"?)`,
				`a_test.yaml:4:5: unknown field "colour" (want name, event, previous, now, expect)`,
				`a_test.yaml:8:11: unknown field "acions" (did you mean "actions"?)`,
				`a_test.yaml:9:38: tag: unknown parameter "tagz" (did you mean "tags"?)`,
			},
		},
		{
			name: "repeated key",
			content: `
tests:
  - event: testdata/ransomware-created.json
    event: testdata/redteam-created.json
    expect: {matches: []}
`,
			want: []string{`a_test.yaml:3:5: "event" is already set at line 2`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := loadErrors(t, tt.content)
			if got == nil {
				t.Fatal("no error")
			}
			checkErrors(t, got, tt.want, tt.notWant)
		})
	}
}

// A YAML syntax error is reported at the mistake, without yaml.v3's "yaml:
// line N:" (the line of the construct that failed, often 0-based).
func TestLoadSyntaxErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, content, want string
	}{
		{
			name: "flow sequence not closed on its line",
			content: `
tests:
  - name: x
    expect: { matches: [a, b }
`,
			want: `a_test.yaml:3:30: did not find expected ',' or ']'`,
		},
		{
			name: "flow sequence over lines",
			content: `
tests:
  - event: testdata/ransomware-created.json
    expect:
      matches: [a,
        b
        c: d]
`,
			want: `a_test.yaml:6:9: did not find expected ',' or ']'`,
		},
		{
			name: "flow sequence never closed",
			content: `
tests:
  - event: testdata/ransomware-created.json
    expect: { matches: [a, b

`,
			want: `a_test.yaml:3:24: did not find expected ',' or ']' (the file ends before this list is closed)`,
		},
		{
			name: "key indented less",
			content: `
tests:
  - name: x
    event: y
   expect: z
`,
			want: `a_test.yaml:4:4: did not find expected '-' indicator`,
		},
		{
			name: "list item indented less",
			content: `
tests:
  - name: x
    expect:
      matches:
      - a
     - b
`,
			want: `a_test.yaml:6:6: did not find expected key`,
		},
		{
			name:    "tab in the indentation",
			content: "tests:\n  - name: x\n\t  event: y\n",
			want:    `a_test.yaml:3:1: found a tab character that violates indentation (indent with spaces, not tabs)`,
		},
		{
			name:    "tab at the start of a line",
			content: "tests:\n  - name: x\n    event:\n\t- y\n",
			want:    `a_test.yaml:4:1: found character that cannot start any token (indent with spaces, not tabs)`,
		},
		{
			name: "key without colon",
			content: `
tests:
  - name: x
    event
    expect: y
`,
			want: `a_test.yaml:3:5: could not find expected ':'`,
		},
		{
			name: "quote not closed",
			content: `
tests:
  - name: "x
    event: y
`,
			want: `a_test.yaml:2:11: found unexpected end of stream (this quote is not closed)`,
		},
		{
			name: "value after a value",
			content: `
tests:
  - name: x
    event: y: z
`,
			want: `a_test.yaml:3:13: mapping values are not allowed in this context`,
		},
		{
			name:    "mistake on the first line",
			content: "tests: [\n  {a: 1}\n  {b: 2}]\n",
			want:    `a_test.yaml:3:3: did not find expected ',' or ']'`,
		},
		{
			name:    "lines ending in a carriage return alone",
			content: "tests:\r  - name: x\r    event: y: z\r",
			want:    `a_test.yaml:1:32: mapping values are not allowed in this context`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := loadErrors(t, tt.content)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// Files named in a test file are relative to it, unless absolute.
func TestLoadPaths(t *testing.T) {
	t.Parallel()
	fixture := filepath.Join(fixtureDir(t), "testdata", "ransomware-created.json")
	for _, tt := range []struct {
		name  string
		files map[string]string
		tests string // the directory given to Load, under the temporary one
	}{
		{
			name: "absolute event, previous and file",
			files: map[string]string{"a_test.yaml": `
tests:
  - event: ` + fixture + `
    previous: ` + fixture + `
    expect: {matches: []}
  - event: { file: ` + fixture + `, set: { severity: low } }
    expect: {matches: []}
`},
		},
		{
			name: "relative to a test file in a subdirectory",
			files: map[string]string{
				"team/a_test.yaml":         "tests:\n  - event: testdata/x.json\n    previous: {file: ./testdata/x.json}\n    expect: {matches: []}\n",
				"team/testdata/x.json":     string(fixtures.Read("ransomware-created.json")),
				"other/testdata/x.json":    "not this one",
				"other/testdata/unused":    "",
				"team/.hidden/b_test.yaml": "not a test file: hidden",
			},
		},
		{
			name: "relative, outside the directory of the tests",
			files: map[string]string{
				"cases/a_test.yaml": "tests:\n  - event: ../fixtures/x.json\n    expect: {matches: []}\n",
				"fixtures/x.json":   string(fixtures.Read("ransomware-created.json")),
			},
			tests: "cases",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, dir, tt.files)
			cases, err := ruletest.Load(filepath.Join(dir, tt.tests), actions.Builtin())
			if err != nil {
				t.Fatal(err)
			}
			if len(cases) == 0 {
				t.Fatal("no cases")
			}
			for _, c := range cases {
				if c.Event == nil || c.Event.IncidentID != "4211" {
					t.Errorf("%s: event %+v", c.Pos, c.Event)
				}
			}
		})
	}
}

// now is an RFC 3339 time or a date (midnight UTC); a mistake is reported
// at the value.
func TestLoadNow(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		now     string
		want    time.Time
		wantErr string
	}{
		{now: "2031-01-01", want: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)},
		{now: `"2031-01-01"`, want: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)},
		{now: "2026-11-21T09:30:00Z", want: time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC)},
		{now: "2026-11-21T11:30:00.5+02:00", want: time.Date(2026, 11, 21, 9, 30, 0, 5e8, time.UTC)},
		{now: "yesterday", wantErr: `a_test.yaml:3:10: now: "yesterday" is not a time: want RFC 3339 (2026-11-21T09:30:00Z) or a date (2026-11-21, midnight UTC)`},
		{now: "2031-02-30", wantErr: `a_test.yaml:3:10: now: "2031-02-30" is not a time`},
		{now: "[2031-01-01]", wantErr: `a_test.yaml:3:10: now: a list is not a time`},
	} {
		t.Run(tt.now, func(t *testing.T) {
			t.Parallel()
			dir := fixtureDir(t)
			write(t, dir, map[string]string{"a_test.yaml": `
tests:
  - event: testdata/ransomware-created.json
    now: ` + tt.now + `
    expect: {matches: []}
`})
			cases, err := ruletest.Load(dir, actions.Builtin())
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(strings.TrimPrefix(err.Error(), dir+string(filepath.Separator)), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cases[0].Now.Equal(tt.want) {
				t.Errorf("now %v, want %v", cases[0].Now, tt.want)
			}
		})
	}
}

// A directory that cannot be read is named in the error.
func TestLoadDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"file_test.yaml": "tests: []\n"})
	for _, tt := range []struct {
		dir, want string
		notExist  bool
	}{
		{dir: filepath.Join(dir, "nonexistent"), want: filepath.Join(dir, "nonexistent") + ": no such file or directory", notExist: true},
		{dir: filepath.Join(dir, "file_test.yaml"), want: filepath.Join(dir, "file_test.yaml") + ": not a directory"},
	} {
		_, err := ruletest.Load(tt.dir, actions.Builtin())
		if err == nil || err.Error() != tt.want || errors.Is(err, fs.ErrNotExist) != tt.notExist {
			t.Errorf("Load(%s): %v, want %q", tt.dir, err, tt.want)
		}
	}
}

// Strict reading keeps what YAML offers: anchors, aliases, merge keys and
// several documents in a file.
func TestLoadYAMLFeatures(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	write(t, dir, map[string]string{"a_test.yaml": `
base: &base
  event: testdata/ransomware-created.json
  expect: {matches: []}
---
tests:
  - <<: *base
    name: merged
  - <<: [{name: from a list}, *base]
    now: 2031-01-01
---
tests:
  - &third
    name: third
    event: {file: testdata/ransomware-created.json, set: &low {severity: low}}
    previous: {file: testdata/ransomware-created.json, set: *low}
    expect: {matches: [], errors: []}
`})
	_, err := ruletest.Load(dir, actions.Builtin())
	checkErrors(t, strings.Split(fmt.Sprint(err), "\n"), []string{
		filepath.Join(dir, "a_test.yaml") + `:1:1: unknown field "base" (want tests)`,
	}, nil)
	write(t, dir, map[string]string{"a_test.yaml": `
tests:
  - &first
    name: first
    event: testdata/ransomware-created.json
    expect: {matches: []}
  - <<: *first
    name: merged
  - <<: [{name: from a list}, *first]
    now: 2031-01-01
---
tests:
  - name: second document
    event: {file: testdata/ransomware-created.json, set: &low {severity: low}}
    previous: {file: testdata/ransomware-created.json, set: *low}
    expect: {matches: [], errors: []}
`})
	cases, err := ruletest.Load(dir, actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.Name+" "+strings.TrimPrefix(c.Pos, filepath.Join(dir, "a_test.yaml")))
	}
	if want := []string{"first :2", "merged :6", "from a list :8", "second document :12"}; !slices.Equal(names, want) {
		t.Errorf("cases %q, want %q", names, want)
	}
	if cases[3].Previous == nil || cases[3].Previous.Severity != "low" || cases[3].Event.Incident.Severity != "low" {
		t.Error("set not applied")
	}
}
