package rules_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/fixtures"
)

// genEvents makes n varied events (compact JSON, one per element) from the
// full fixtures: each with its own event and incident ids, times, severity,
// status, title and tags drawn from the benchmark rules' vocabulary, and now
// and then a file hash from one of the benchmark lists, so that a few of the
// 1,000 rules match each event and the others are rejected at different
// depths. The same seed gives the same events.
func genEvents(tb testing.TB, n int, seed uint64) [][]byte {
	tb.Helper()
	var bench struct {
		Lists map[string][]string `yaml:"lists"`
	}
	data, err := os.ReadFile("testdata/bench/rules-1000.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &bench); err != nil {
		tb.Fatal(err)
	}
	var hashes []string
	for i := range 200 {
		if l := bench.Lists[fmt.Sprintf("hashes_%d", i)]; len(l) > 0 {
			hashes = append(hashes, l[i%len(l)])
		}
	}
	var bases []map[string]any
	for _, name := range fullFixtures() {
		var m map[string]any
		if err := json.Unmarshal(fixtures.Read(name), &m); err != nil {
			tb.Fatal(err)
		}
		bases = append(bases, m)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	severities := []string{"low", "medium", "high", "informational"}
	statuses := []string{"active", "inProgress", "resolved"}
	out := make([][]byte, n)
	for i := range n {
		ev := cloneJSON(tb, bases[i%len(bases)])
		inc := ev
		if d, ok := ev["data"].(map[string]any); ok {
			inc = d
			ev["id"] = fmt.Sprintf("gen-%06d", i)
			ev["subject"] = fmt.Sprint(20000 + i)
			ev["time"] = t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		}
		inc["id"] = fmt.Sprint(20000 + i)
		inc["lastUpdateDateTime"] = t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)
		inc["severity"] = severities[r.IntN(len(severities))]
		inc["status"] = statuses[r.IntN(len(statuses))]
		inc["displayName"] = fmt.Sprintf("%v (case-%d)", inc["displayName"], r.IntN(300))
		var tags []any
		for range r.IntN(3) {
			if r.IntN(2) == 0 {
				tags = append(tags, fmt.Sprintf("tag-%d", r.IntN(400)))
			} else {
				tags = append(tags, fmt.Sprintf("grp-%d", r.IntN(400)))
			}
		}
		inc["customTags"] = append([]any{}, tags...)
		if r.IntN(4) == 0 {
			setFileHash(inc, hashes[r.IntN(len(hashes))])
		}
		b, err := json.Marshal(ev)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func cloneJSON(tb testing.TB, m map[string]any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

// setFileHash puts h as the sha256 of the first file evidence, if any.
func setFileHash(inc map[string]any, h string) {
	alerts, _ := inc["alerts"].([]any)
	for _, a := range alerts {
		evs, _ := a.(map[string]any)["evidence"].([]any)
		for _, e := range evs {
			if fd, ok := e.(map[string]any)["fileDetails"].(map[string]any); ok {
				fd["sha256"] = h
				return
			}
		}
	}
}
