package rules_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/graphsoar/graphsoar/internal/rules"
)

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"redteam.yaml", "ransomware.yaml", "identity.yaml", "phishing.yaml", "escalation.yaml"} {
		b, err := os.ReadFile("../../rules/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(trickyRules))
	f.Add([]byte("rules:\n  - {id: r, order: 1, when: '{{', actions: [{comment: '{{ }}}}'}]}\n"))
	f.Add([]byte("lists:\n  l: {file: x.txt}\nrules: []\n"))
	// block_file_hash's indicator options, literal and templated.
	f.Add([]byte("rules:\n  - id: b\n    order: 1\n    when: 'true'\n    actions:\n      - block_file_hash:\n" +
		"          hashes: \"{{ fileHashes(incident) }}\"\n          mode: AlertAndBlock\n          severity: Low\n" +
		"          expires: 720h\n          rbacGroupNames: [Finance, HR]\n"))
	f.Add([]byte("rules:\n  - {id: b, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [" + strings.Repeat("ab", 32) +
		"], mode: '{{ incident.severity }}', expires: '{{ 30 }}d', severity: high, rbacGroupNames: []}}]}\n"))
	f.Add([]byte("rules:\n  - {id: b, order: 1, when: 'true', actions: [{block_file_hash: {hashes: " + strings.Repeat("cd", 20) + ", expires: 2027-01-01T00:00:00+01:00, rbacGroupNames: '{{ map(devices(incident), .rbacGroupName) }}'}}]}\n"))
	// Determinations: pairs, the names of Microsoft's incident page, templates.
	f.Add([]byte("rules:\n  - {id: c, order: 1, when: 'incident.determination == \"clean\" || previous?.determination in [\"compromisedUser\"]', " +
		"actions: [{classify: {classification: falsePositive, determination: malware}}, {classify: {classification: '{{ \"truePositive\" }}', determination: apt}}]}\n"))
	// Warnings: an expired rule, a catch-all that stops, a list unused and one with a value twice.
	f.Add([]byte("lists:\n  l: [a, a]\n  u: [b]\nrules:\n  - {id: a, order: 1, when: true, stop: true, expires: 2020-01-01}\n" +
		"  - {id: b, order: 2, when: '\"a\" in lists.l', actions: [{tag: x}]}\n"))
	ev := event(f, "ransomware-created.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"a.yaml": &fstest.MapFile{Data: data},
			"x.txt":  &fstest.MapFile{Data: []byte("a\nb\n")},
		}
		rs, err := rules.LoadFS(fsys, ".", "rules", nil)
		if err != nil {
			var le *rules.LoadError
			if !errors.As(err, &le) || len(le.Errors) == 0 {
				t.Fatalf("error %T %v is not a non-empty *LoadError", err, err)
			}
			for _, e := range le.Errors {
				if e.Pos.File != "rules/a.yaml" || e.Pos.Line < 1 || e.Msg == "" {
					t.Fatalf("error without a position: %+v", e)
				}
			}
			if rs != nil {
				t.Fatal("rules returned with an error")
			}
			return
		}
		// Whatever loads must evaluate without panicking, and its warnings
		// must have positions.
		rs.Evaluate(rules.Input{Event: ev, Now: t0})
		for _, w := range rs.Warnings(t0) {
			if w.Pos.Line < 1 || w.Pos.File == "" || w.Msg == "" {
				t.Fatalf("warning without a position: %+v", w)
			}
		}
	})
}
