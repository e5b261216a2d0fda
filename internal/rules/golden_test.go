package rules_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden plans")

// TestGoldenPlans evaluates every full fixture against the starter library in
// rules/ and compares the plan with testdata/golden (go test -update rewrites).
func TestGoldenPlans(t *testing.T) {
	t.Parallel()
	rs, err := rules.Load("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range fullFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			plan := rs.Evaluate(rules.Input{Event: event(t, name), Now: t0})
			got, err := json.MarshalIndent(plan, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", strings.TrimSuffix(name, ".json")+".plan.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plan differs from %s:\n%s", path, got)
			}
		})
	}
}
