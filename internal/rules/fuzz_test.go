package rules_test

import (
	"errors"
	"os"
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
		// Whatever loads must evaluate without panicking.
		rs.Evaluate(rules.Input{Event: ev, Now: t0})
	})
}
