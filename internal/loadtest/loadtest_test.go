package loadtest_test

import (
	"context"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/loadtest"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// TestLoadtestRuns runs a small load test of each scenario and checks that
// every event was settled and the report is complete.
func TestLoadtestRuns(t *testing.T) {
	t.Parallel()
	bench, err := rules.Load("../rules/testdata/bench", actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	write, err := rules.LoadFS(fstest.MapFS{"w.yaml": {Data: []byte("rules:\n  - {id: w, order: 1, when: 'true', actions: [{comment: 'v {{ incident.lastUpdateDateTime }}'}]}\n")}}, ".", "w", actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []loadtest.Options{
		{Scenario: loadtest.NoMatch, Events: 500, Paced: 100, Incidents: 50, Concurrency: 8, Partitions: 4, Rules: bench},
		{Scenario: loadtest.Write, Events: 200, Paced: 50, Concurrency: 8, Partitions: 4, Rules: write, Latency: 10 * time.Millisecond},
	} {
		t.Run(string(o.Scenario), func(t *testing.T) {
			t.Parallel()
			o.Dir = filepath.Join(t.TempDir(), "nats")
			rep, err := loadtest.Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Outcomes["acked"] != o.Events+o.Paced || rep.RawRate <= 0 || rep.Rate <= 0 || rep.P99 < rep.P50 || rep.PeakHeapMiB <= 0 {
				t.Errorf("report %+v", rep)
			}
			if o.Scenario == loadtest.Write && rep.Ideal != 800 {
				t.Errorf("ideal %v, want 8 / 10ms", rep.Ideal)
			}
		})
	}
}

func BenchmarkNoMatch(b *testing.B) {
	bench, err := rules.Load("../rules/testdata/bench", actions.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := loadtest.Run(context.Background(), loadtest.Options{Scenario: loadtest.NoMatch, Events: 20000, Incidents: 2000,
			Concurrency: 32, Partitions: 16, Rules: bench, Dir: filepath.Join(b.TempDir(), "nats")})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.Rate, "events/s")
		b.ReportMetric(rep.RawRate, "raw-events/s")
	}
}

func BenchmarkNoMatchStarter(b *testing.B) {
	starter, err := rules.Load("../../rules", actions.Builtin())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := loadtest.Run(context.Background(), loadtest.Options{Scenario: loadtest.NoMatch, Events: 20000, Incidents: 2000,
			Concurrency: 32, Partitions: 4, Rules: starter, Dir: filepath.Join(b.TempDir(), "nats")})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(rep.Rate, "events/s")
		b.ReportMetric(rep.RawRate, "raw-events/s")
	}
}
