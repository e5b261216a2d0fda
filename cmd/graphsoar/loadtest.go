package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/loadtest"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// writeRules make every event write once: a comment naming its version.
const writeRules = `
rules:
  - id: note-version
    order: 1
    when: "true"
    actions:
      - comment: "version {{ incident.lastUpdateDateTime }}"
`

func newLoadtestCmd(getenv func(string) string, s stdio) *cobra.Command {
	var (
		o         loadtest.Options
		scenario  string
		latencies []time.Duration
		rulesDir  string
	)
	var cpuProfile string
	var runs int
	cmd := &cobra.Command{
		Use:   "loadtest",
		Short: "Measure the worker: embedded JetStream, the Graph emulator, N events",
		Long: `Publish events to an embedded JetStream, measure the raw consume rate of the
same events, then run the worker against the Graph emulator and report its
rate, publish-to-settle latency (p50, p99; paced at half the drain rate) and
peak heap. Scenarios: nomatch (no rule matches; --rules, default the 1,000
benchmark rules) and write (one comment per event).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tuneGC(getenv) // measure the worker as graphsoar run runs it
			o.Scenario = loadtest.Scenario(scenario)
			var err error
			switch o.Scenario {
			case loadtest.NoMatch:
				o.Rules, err = rules.Load(rulesDir, actions.Builtin())
			case loadtest.Write:
				o.Rules, err = rules.LoadFS(fstest.MapFS{"write.yaml": {Data: []byte(writeRules)}}, ".", "write", actions.Builtin())
			default:
				return &exitError{code: 2, err: fmt.Errorf("--scenario %q: want nomatch or write", scenario)}
			}
			if err != nil {
				return err
			}
			header := fmt.Sprintf("%-8s %8s %6s %5s %10s %11s %7s %9s %9s %8s %9s %9s\n",
				"scenario", "latency", "events", "conc", "raw ev/s", "worker ev/s", "ratio", "p50", "p99", "heap MiB", "raw cpu/ev", "cpu/ev")
			fmt.Fprint(s.out, header)
			for _, lat := range latencies {
				o.Latency = lat
				var reps []loadtest.Report
				for range runs {
					dir, err := os.MkdirTemp("", "graphsoar-loadtest-")
					if err != nil {
						return err
					}
					o.Dir = filepath.Join(dir, "nats")
					if cpuProfile != "" && len(reps) == 0 {
						f, err := os.Create(cpuProfile)
						if err != nil {
							return err
						}
						o.CPUProfile = f
						defer f.Close()
					} else {
						o.CPUProfile = nil
					}
					rep, err := loadtest.Run(cmd.Context(), o)
					os.RemoveAll(dir)
					if err != nil {
						return err
					}
					reps = append(reps, rep)
					printReport(s, "", rep)
				}
				if runs > 1 {
					printReport(s, "median", loadtest.Median(reps))
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&scenario, "scenario", "nomatch", "nomatch or write")
	f.IntVar(&o.Events, "events", 20000, "events published before the worker starts")
	f.IntVar(&o.Paced, "paced", 2000, "events then published at half the drain rate, for latency")
	f.IntVar(&o.Incidents, "incidents", 2000, "nomatch: the events are versions of this many incidents")
	f.IntVar(&o.Tenants, "tenants", 1, "spread the incidents over this many tenants (partitions go by tenant)")
	f.DurationSliceVar(&latencies, "latency", []time.Duration{0}, "Graph emulator latency (repeatable)")
	f.IntVar(&o.Concurrency, "concurrency", 32, "worker concurrency")
	f.IntVar(&o.Partitions, "partitions", 8, "partitions")
	f.IntVar(&o.Batch, "batch", 0, "events fetched ahead per partition (default: the worker's)")
	f.BoolVar(&o.Refresh, "refresh", false, "write: read the incident before writing (two Graph calls per event)")
	f.IntVar(&runs, "runs", 3, "runs per latency; the median is reported too (this machine is noisy)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the worker phase to this file")
	f.StringVar(&rulesDir, "rules", "internal/rules/testdata/bench", "nomatch: rules the events do not match")
	return cmd
}

func printReport(s stdio, label string, r loadtest.Report) {
	name := string(r.Options.Scenario)
	if label != "" {
		name = label
	}
	ratio := fmt.Sprintf("%.0f%%", 100*r.Rate/r.RawRate)
	if r.Ideal > 0 {
		ratio = fmt.Sprintf("%.0f%%i", 100*r.Rate/r.Ideal)
	}
	if r.Ratio > 0 {
		ratio = fmt.Sprintf("%.0f%%", 100*r.Ratio)
		if r.Ideal > 0 {
			ratio += "i"
		}
	}
	fmt.Fprintf(s.out, "%-8s %8v %6d %5d %10.0f %11.0f %7s %9v %9v %8.1f %9v %9v\n",
		name, r.Options.Latency, r.Options.Events, r.Options.Concurrency, r.RawRate, r.Rate, ratio,
		r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond), r.PeakHeapMiB,
		r.RawCPU.Round(100*time.Nanosecond), r.CPU.Round(100*time.Nanosecond))
}
