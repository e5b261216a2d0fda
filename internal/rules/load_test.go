package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/graphsoar/graphsoar/internal/rules"
)

// load loads an in-memory rules directory shown as "rules".
func load(t *testing.T, files map[string]string) (*rules.RuleSet, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(strings.TrimLeft(content, "\n"))}
	}
	return rules.LoadFS(fsys, ".", "rules", nil)
}

func mustLoad(t *testing.T, files map[string]string) *rules.RuleSet {
	t.Helper()
	rs, err := load(t, files)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return rs
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"unknown top-level field", map[string]string{"a.yaml": "rule:\n  - id: x\n"},
			[]string{`rules/a.yaml:1:1: unknown field "rule" (did you mean "rules"?) (want one of lists, rules)`}},
		{"yaml syntax", map[string]string{"a.yaml": "rules:\n  - id: y\n    order: [\n"},
			[]string{`rules/a.yaml:3:5: did not find expected node content`}},
		{"unclosed flow mapping", map[string]string{"a.yaml": "rules:\n  - {id: a, order: 1, when: 'true', actions: [{tag: x}]}\n  - {id: b, order: 2\n"},
			[]string{`rules/a.yaml:3:3: did not find expected ',' or '}'`}},
		{"flow sequence with a block entry", map[string]string{"a.yaml": "rules:\n  - id: a\n    order: 1\n    when: 'true'\n    actions: [ - tag: x\n"},
			[]string{`rules/a.yaml:5:5: did not find expected node content`}},
		{"tab", map[string]string{"a.yaml": "rules:\n  - id: a\n    order: 1\n\twhen: 'true'\n"},
			[]string{`rules/a.yaml:4:1: found a tab character that violates indentation`}},
		{"not a mapping", map[string]string{"a.yaml": "- a\n- b\n"},
			[]string{`rules/a.yaml:1:1: a rule file is a mapping with lists: and rules:`}},
		{"required fields", map[string]string{"a.yaml": "rules:\n  - description: nothing\n"},
			[]string{
				`rules/a.yaml:2:5: rule without id`,
				`rules/a.yaml:2:5: rule (no id): order missing (every rule needs an explicit order)`,
				`rules/a.yaml:2:5: rule (no id): when missing (write ` + "`when: \"true\"`" + ` to match every incident)`,
				`rules/a.yaml:2:5: rule (no id): actions missing (a rule without actions must set stop: true)`,
			}},
		{"misspelt rule field", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    whn: "true"
    when: "true"
    actions: [{set_status: resolved}]
`}, []string{`rules/a.yaml:4:5: unknown field "whn" (did you mean "when"?) (want one of id, description, on, order, enabled, expires, when, actions, stop)`}},
		{"duplicate field", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    order: 2
    when: "true"
    stop: true
`}, []string{`rules/a.yaml:4:5: order: defined twice`}},
		{"order and id clash across files", map[string]string{
			"a.yaml": "rules:\n  - {id: r1, order: 5, when: 'true', stop: true}\n",
			"b.yaml": "rules:\n  - {id: r1, order: 5, when: 'true', stop: true}\n",
		}, []string{
			`rules/b.yaml:2:10: rule id "r1" is already used at rules/a.yaml:2:10`,
			`rules/b.yaml:2:21: order 5 is already used by rule "r1" at rules/a.yaml:2:21; every rule needs its own order`,
		}},
		{"misspelt field in a literal block", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    when: |
      incident.status == "active"
      && incident.severty == "high"
    stop: true
`}, []string{`rules/a.yaml:6:19: type incident.Incident has no field severty (did you mean "severity"?)`}},
		{"misspelt field in a folded block", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    when: >
      incident.status == "active" &&
      any(incident.alerts, {.titel contains "x"})
    stop: true
`}, []string{`rules/a.yaml:6:30: type incident.Alert has no field titel (did you mean "title"?)`}},
		{"misspelt field in a quoted one-liner", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    when: "incident.status == 'active' && incident.foo"
    stop: true
`}, []string{`rules/a.yaml:4:52: type incident.Incident has no field foo`}},
		{"unknown name", map[string]string{"a.yaml": "rules:\n  - {id: r, order: 1, when: 'incidnet.id == \"1\"', stop: true}\n"},
			[]string{`rules/a.yaml:2:30: unknown name incidnet (did you mean "incident"?)`}},
		{"condition not bool", map[string]string{"a.yaml": "rules:\n  - {id: r, order: 1, when: incident.severity, stop: true}\n"},
			[]string{`rules/a.yaml:2:29: the condition must be true or false: expected bool, but got string`}},
		{"unknown list and changed field", map[string]string{"a.yaml": `
lists:
  redteam_devices: [a]
rules:
  - id: r
    order: 1
    when: changed("severty") || "x" in lists.redteam_device
    stop: true
`}, []string{
			`rules/a.yaml:6:19: changed("severty"): not an incident property (did you mean "severity"?)`,
			`rules/a.yaml:6:46: unknown list "redteam_device" (did you mean "redteam_devices"?)`,
		}},
		{"bad list definitions", map[string]string{"a.yaml": `
lists:
  bad-name: [a]
  missing: { file: lists/none.txt }
  nested: [[a]]
  other: { path: x }
rules:
  - {id: r, order: 1, when: "true", stop: true}
`}, []string{
			`rules/a.yaml:2:3: list name "bad-name": use letters, digits and '_' (it is used as lists.bad-name)`,
			`rules/a.yaml:3:20: lists.missing: open lists/none.txt: file does not exist`,
			`rules/a.yaml:4:12: lists.nested: items must be strings`,
			`rules/a.yaml:5:10: lists.other: file missing`,
			`rules/a.yaml:5:12: unknown field "path" (want one of file)`,
		}},
		{"duplicate list across files", map[string]string{
			"a.yaml": "lists:\n  l: [a]\nrules:\n  - {id: r, order: 1, when: 'true', stop: true}\n",
			"b.yaml": "lists:\n  l: [b]\n",
		}, []string{`rules/b.yaml:2:3: list "l" is already defined at rules/a.yaml:2:3`}},
		{"bad actions", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    when: "true"
    actions:
      - clasify: { classification: truePositive }
      - classify: { classification: TruePositive, determination: malware }
      - set_status: closed
      - assign
      - classify: resolved
      - tag: { tags: [a], extra: 1 }
      - block_file_hash: { hashes: [abc] }
      - classify: { determination: malware }
      - comment: ""
`}, []string{
			`rules/a.yaml:6:9: unknown action "clasify" (did you mean "classify"?) (actions: assign, block_file_hash, classify, comment, set_status, tag)`,
			`rules/a.yaml:7:37: classify: classification: "TruePositive" is not one of unknown, falsePositive, truePositive, informationalExpectedActivity (did you mean "truePositive"?)`,
			`rules/a.yaml:8:21: set_status: status: "closed" is not one of active, inProgress, resolved`,
			`rules/a.yaml:9:9: an action is one ` + "`name: parameters`" + ` pair (write ` + "`- assign: ...`" + `)`,
			`rules/a.yaml:10:19: classify takes a mapping of parameters: e.g. ` + "`classify: { classification: truePositive, determination: malware }`",
			`rules/a.yaml:11:27: unknown tag parameter "extra" (want one of tags, approval)`,
			`rules/a.yaml:12:37: block_file_hash: hashes: "abc" is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)`,
			`rules/a.yaml:13:19: classify: parameter classification missing (e.g. ` + "`classify: { classification: truePositive, determination: malware }`)",
			`rules/a.yaml:14:18: comment: comment: empty`,
		}},
		{"bad templates", map[string]string{"a.yaml": `
rules:
  - id: r
    order: 1
    when: "true"
    actions:
      - comment: "Closed by {{ rule.idd }}"
      - tag: "{{ len(incident.alerts) }}"
      - comment: "x {{ incident.id"
      - comment: "{{ incident }}"
      - comment: "{{ }}"
      - assign: "{{ incident.alerts }}"
      - comment: "devices {{ devices(incident) }} of {{ incident.id }}"
`}, []string{
			`rules/a.yaml:6:37: comment: comment: type rules.RuleInfo has no field idd (did you mean "id"?)`,
			`rules/a.yaml:7:18: tag: tags: {{ len(incident.alerts) }} yields int, want a list of strings`,
			`rules/a.yaml:8:21: comment: comment: unclosed {{ (missing }})`,
			`rules/a.yaml:9:22: comment: comment: {{ incident }} yields *incident.Incident, not text; pick one of its fields, e.g. .id`,
			`rules/a.yaml:10:19: comment: comment: empty {{ }} template`,
			`rules/a.yaml:11:21: assign: assignedTo: {{ incident.alerts }} yields []*incident.Alert, not text; pick a field of each, e.g. map(..., .id)`,
			`rules/a.yaml:12:30: comment: comment: {{ devices(incident) }} yields []*incident.Evidence, not text; pick a field of each, e.g. map(..., .displayName)`,
		}},
		{"literals never matching", map[string]string{"a.yaml": `
rules:
  - {id: a, order: 1, when: 'incident.status == "activ"', stop: true}
  - {id: b, order: 2, when: 'incident.severity in ["high", "critical"]', stop: true}
  - {id: c, order: 3, when: 'event.type == "create" || previous?.classification != "truePositive"', stop: true}
  - {id: d, order: 4, when: 'changed(incident.severity)', stop: true}
  - {id: e, order: 5, when: 'len(evidence(incident, "procesEvidence")) > 0', stop: true}
  - {id: f, order: 6, when: 'len(evidence(incident, "#microsoft.graph.security.futureEvidence")) > 0 && incident.status == "awaitingAction"', stop: true}
`}, []string{
			`rules/a.yaml:2:49: "activ" is never a value of incident.status (did you mean "active"?)`,
			`rules/a.yaml:3:60: "critical" is never a value of incident.severity (its values: unknown, informational, low, medium, high, unknownFutureValue)`,
			`rules/a.yaml:4:44: "create" is never a value of event.type (did you mean "created"?)`,
			`rules/a.yaml:5:38: changed() takes a property name in quotes, e.g. changed("severity")`,
			`rules/a.yaml:6:53: evidence type "procesEvidence" is not one of Graph's (did you mean "processEvidence"?) (a type newer than graphsoar: write "#microsoft.graph.security.procesEvidence")`,
		}},
		{"bad scalars", map[string]string{"a.yaml": `
rules:
  - id: bad id!
    order: five
    on: [created, deleted]
    expires: next week
    enabled: maybe
    when: "true"
    stop: true
  - id: r2
    order: 2
    on: []
    when: "true"
    actions: []
`}, []string{
			`rules/a.yaml:2:9: id "bad id!": use letters, digits, '.', '_' and '-'`,
			`rules/a.yaml:3:12: order: want an integer, got "five"`,
			`rules/a.yaml:4:19: on: "deleted" is not created or updated`,
			`rules/a.yaml:5:14: expires: "next week" is not a time (write 2027-01-01 or 2027-01-01T00:00:00Z)`,
			`rules/a.yaml:6:14: enabled: want true or false, got "maybe"`,
			`rules/a.yaml:11:9: on: empty; want created, updated or both`,
			`rules/a.yaml:13:14: rule r2: no actions (a rule without actions must set stop: true)`,
		}},
		{"no rule files", map[string]string{"notes.txt": "x"},
			[]string{`rules:1:1: no rule files (*.yaml, *.yml) found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs, err := load(t, tt.files)
			if rs != nil {
				t.Error("a failed load must return no rules")
			}
			var le *rules.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T), want *rules.LoadError", err, err)
			}
			got := strings.Split(le.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoadIsAllOrNothing(t *testing.T) {
	t.Parallel()
	good := "rules:\n  - {id: good, order: 1, when: 'true', actions: [{tag: x}]}\n"
	if _, err := load(t, map[string]string{"good.yaml": good}); err != nil {
		t.Fatal(err)
	}
	rs, err := load(t, map[string]string{"good.yaml": good, "bad.yaml": "rules:\n  - {id: bad, order: 2, when: 'nope', stop: true}\n"})
	if err == nil || rs != nil {
		t.Fatalf("one bad file must reject the whole set: rs=%v err=%v", rs, err)
	}
}

func TestLoadSkipsTestsHiddenAndTestdata(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{
		"a.yaml":              "rules:\n  - {id: a, order: 1, when: 'true', actions: [{tag: x}]}\n",
		"sub/b.yml":           "rules:\n  - {id: b, order: 2, when: 'true', actions: [{tag: y}]}\n",
		"a_test.yaml":         "tests: []\n",
		".hidden/c.yaml":      "not: [valid",
		"testdata/event.yaml": "not: [valid",
		"lists/x.txt":         "x\n",
	})
	var ids []string
	for _, r := range rs.Rules() {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("rules %v", ids)
	}
	if !slices.Equal(rs.Files(), []string{"rules/a.yaml", "rules/sub/b.yml"}) {
		t.Errorf("files %v", rs.Files())
	}
}

// TestLoadConfigMapLayout loads rules laid out as a Kubernetes ConfigMap
// volume: files and subdirectories are symbolic links into the hidden ..data
// directory, which is itself a link to the current version.
func TestLoadConfigMapLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	version := filepath.Join(dir, "..2026_11_23_10_00_00.000000001")
	for name, content := range map[string]string{
		"a.yaml":           "lists:\n  l: {file: lists/l.txt}\nrules:\n  - {id: a, order: 1, when: 'incident.id in lists.l', actions: [{tag: x}]}\n",
		"team/b.yaml":      "rules:\n  - {id: b, order: 2, when: 'true', actions: [{tag: y}]}\n",
		"lists/l.txt":      "4211\n",
		"team/c_test.yaml": "tests: []\n",
	} {
		p := filepath.Join(version, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"..data": filepath.Base(version), "a.yaml": "..data/a.yaml", "team": "..data/team", "lists": "..data/lists",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs.Rules() {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"a", "b"}) {
		t.Errorf("rules %v, want a and b once each (the hidden ..data directories skipped)", ids)
	}

	// A link loop is an error, not a hang.
	if err := os.Symlink(".", filepath.Join(dir, "team-loop")); err != nil {
		t.Fatal(err)
	}
	if _, err := rules.Load(dir, nil); err == nil || !strings.Contains(err.Error(), "symbolic link loop") {
		t.Errorf("loop: %v", err)
	}
}

func TestListsFromFilesAndInline(t *testing.T) {
	t.Parallel()
	rs := mustLoad(t, map[string]string{
		"playbooks/a.yaml": `
lists:
  hashes: { file: ../lists/hashes.txt }
  devices: [rt-01, rt-02]
rules:
  - {id: a, order: 1, when: 'true', actions: [{tag: x}]}
`,
		"lists/hashes.txt": "# a comment\n\n9F2C7E1B3A4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7  # upper case\nhttp://x/#frag\n  spaced  \n",
	})
	h := rs.Lists()["hashes"]
	for _, v := range []string{"9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7", "http://x/#frag", "spaced"} {
		if _, ok := h[v]; !ok {
			t.Errorf("hashes list lacks %q: %v", v, h)
		}
	}
	if len(h) != 3 {
		t.Errorf("hashes list has %d values, want 3", len(h))
	}
	if len(rs.Lists()["devices"]) != 2 {
		t.Errorf("devices: %v", rs.Lists()["devices"])
	}
}
