package rules_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/rules"
)

func TestWarnings(t *testing.T) {
	t.Parallel()
	const hash = "9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	// In want, {dir}/ stands for the test's rules directory; each line is
	// String() of one warning, in order.
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"nothing to say", map[string]string{"a.yaml": `
lists:
  hosts: [a, b]
rules:
  - {id: a, order: 1, when: 'incident.id in lists.hosts', expires: 2027-01-01, actions: [{tag: x}]}
  - {id: b, order: 2, when: 'true', enabled: false, stop: true}
  - {id: c, order: 3, when: 'true', stop: false, actions: [{tag: y}]}
  - {id: d, order: 4, when: 'true && true', stop: true}
  - {id: e, order: 5, when: 'true', on: created, stop: true}
  - {id: f, order: 6, when: 'true', on: [created, updated], actions: [{tag: z}]}
`}, nil},
		{"expired rule", map[string]string{"a.yaml": `
rules:
  - id: old
    order: 1
    expires: 2026-01-01
    when: "true"
    actions: [{tag: x}]
  - {id: old-disabled, order: 2, enabled: false, expires: 2025-06-30T08:00:00+02:00, when: "true", actions: [{tag: x}]}
  - {id: old-exact, order: 3, expires: 2025-06-30T08:00:00+02:00, when: "true", actions: [{tag: x}]}
  - {id: current, order: 4, expires: 2026-11-21T12:00:00Z, when: "true", actions: [{tag: x}]}
`}, []string{
			`{dir}/a.yaml:4:14: warning: rule "old" expired at 2026-01-01T00:00:00Z and is skipped`,
			`{dir}/a.yaml:8:40: warning: rule "old-exact" expired at 2025-06-30T08:00:00+02:00 and is skipped`,
		}},
		{"rules that can never run", map[string]string{
			"a.yaml": `
rules:
  - id: later
    order: 20
    when: incident.severity == "high"
    actions: [{tag: late}]
  - id: catch-all
    order: 10
    when: true
    stop: true
  - id: later-still
    order: 30
    enabled: true
    on: updated
    when: "true"
    actions: [{tag: later}]
`,
			"b.yaml": `
rules:
  - {id: disabled-later, order: 40, enabled: false, when: "true", actions: [{tag: x}]}
  - {id: expired-later, order: 41, expires: 2026-01-01, when: "true", actions: [{tag: x}]}
`}, []string{
			`{dir}/a.yaml:2:9: warning: rule "later" can never run: rule "catch-all" at {dir}/a.yaml:6:9 comes first (order 10), matches every incident (when: true) on the change types later runs on, and has stop: true`,
			`{dir}/a.yaml:10:9: warning: rule "later-still" can never run: rule "catch-all" at {dir}/a.yaml:6:9 comes first (order 10), matches every incident (when: true) on the change types later-still runs on, and has stop: true`,
			`{dir}/b.yaml:3:45: warning: rule "expired-later" expired at 2026-01-01T00:00:00Z and is skipped`,
		}},
		{"shadowing needs every change type, an enabled unexpired rule and the literal true", map[string]string{"a.yaml": `
rules:
  - {id: created-only, order: 1, on: created, when: ' true ', stop: true}
  - {id: both, order: 2, when: 'true', actions: [{tag: x}]}
  - {id: created-too, order: 3, on: [created], when: 'incident.id == "1"', actions: [{tag: x}]}
  - {id: off, order: 4, enabled: false, on: updated, when: 'true', stop: true}
  - {id: gone, order: 5, expires: 2026-01-01, on: updated, when: 'true', stop: true}
  - {id: updated-only, order: 6, on: updated, when: 'true', actions: [{tag: x}]}
  - id: until
    order: 7
    on: updated
    expires: 2027-01-01
    when: |
      true
    stop: true
  - {id: after-until, order: 8, on: updated, when: 'true', actions: [{tag: x}]}
`}, []string{
			`{dir}/a.yaml:4:10: warning: rule "created-too" can never run: rule "created-only" at {dir}/a.yaml:2:10 comes first (order 1), matches every incident (when: true) on the change types created-too runs on, and has stop: true`,
			`{dir}/a.yaml:6:35: warning: rule "gone" expired at 2026-01-01T00:00:00Z and is skipped`,
			`{dir}/a.yaml:15:10: warning: rule "after-until" cannot run before 2027-01-01T00:00:00Z: rule "until" at {dir}/a.yaml:8:9 comes first (order 7), matches every incident (when: true) on the change types after-until runs on, and has stop: true until it expires`,
		}},
		{"lists nobody reads", map[string]string{
			"a.yaml": `
lists:
  in_condition: [a]
  in_template: [b]
  by_index: [c]
  unused: [d]
  also_unused: { file: lists/x.txt }
rules:
  - {id: a, order: 1, when: 'incident.id in lists.in_condition || "c" in lists["by_index"]', actions: [{comment: '{{ len(lists.in_template) }} values'}]}
`,
			"b.yaml": `
lists:
  only_disabled: [e]
rules:
  - {id: b, order: 2, enabled: false, when: '"e" in lists.only_disabled', actions: [{tag: x}]}
`,
			"lists/x.txt": "x\n",
		}, []string{
			`{dir}/a.yaml:5:3: warning: list "unused" is not used: no rule's condition or template reads lists.unused`,
			`{dir}/a.yaml:6:3: warning: list "also_unused" is not used: no rule's condition or template reads lists.also_unused`,
		}},
		{"lists read as a whole", map[string]string{"a.yaml": `
lists:
  unused: [d]
rules:
  - {id: a, order: 1, when: 'len(lists) > 0', actions: [{tag: x}]}
`}, nil},
		{"duplicate list values", map[string]string{
			"a.yaml": `
lists:
  devices: [rt-01, rt-02, rt-01, "rt-02 ", rt-01]
  hashes: { file: lists/hashes.txt }
rules:
  - {id: a, order: 1, when: 'any(devices(incident), {.deviceDnsName in lists.devices}) || any(fileHashes(incident), {# in lists.hashes})', actions: [{tag: x}]}
`,
			"lists/hashes.txt": "# hashes\n" + hash + "\n\n  " + strings.ToUpper(hash) + "  # again, upper case\nfeed\nfeed\n",
		}, []string{
			`{dir}/a.yaml:2:27: warning: lists.devices: "rt-01" is listed twice (first at {dir}/a.yaml:2:13)`,
			`{dir}/a.yaml:2:34: warning: lists.devices: "rt-02" is listed twice (first at {dir}/a.yaml:2:20)`,
			`{dir}/a.yaml:2:44: warning: lists.devices: "rt-01" is listed twice (first at {dir}/a.yaml:2:13)`,
			`{dir}/lists/hashes.txt:4:3: warning: lists.hashes: "` + hash + `" is listed twice (first at {dir}/lists/hashes.txt:2:1) (hashes are compared in lower case)`,
			`{dir}/lists/hashes.txt:6:1: warning: lists.hashes: "feed" is listed twice (first at {dir}/lists/hashes.txt:5:1)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, rs, err := loadDir(t, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range rs.Warnings(t0) {
				got = append(got, w.String())
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = strings.ReplaceAll(w, "{dir}/", dir+string(filepath.Separator))
			}
			if !slices.Equal(got, want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestWarningsDependOnNow(t *testing.T) {
	t.Parallel()
	_, rs, err := loadDir(t, map[string]string{"a.yaml": "rules:\n  - {id: r, order: 1, expires: 2026-12-01, when: 'true', actions: [{tag: x}]}\n"})
	if err != nil {
		t.Fatal(err)
	}
	if w := rs.Warnings(t0); len(w) != 0 {
		t.Errorf("before expiry: %v", w)
	}
	w := rs.Warnings(t0.AddDate(0, 1, 0))
	if len(w) != 1 || w[0].Pos.Line != 2 || w[0].Msg != `rule "r" expired at 2026-12-01T00:00:00Z and is skipped` {
		t.Errorf("after expiry: %+v", w)
	}
}

func TestStarterRulesHaveNoWarnings(t *testing.T) {
	t.Parallel()
	rs, err := rules.Load("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := rs.Warnings(t0); len(w) != 0 {
		t.Errorf("starter library warnings: %v", w)
	}
}
