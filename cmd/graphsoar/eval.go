package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// maxEventLine bounds one JSON Lines event (a large incident with its alerts).
const maxEventLine = 16 << 20

func newEvalCmd(s stdio) *cobra.Command {
	var dir, eventPath, prevPath, format, nowStr, only string
	var explain bool
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Print the plan for an event without writing anything",
		Long: `Evaluate the rules against an event and print the plan: the matching rules in
order with their actions and parameters after templating. --event - reads JSON
Lines from stdin (as does a *.jsonl or *.ndjson file) and prints one plan per
line, in input order; a line that cannot be read is reported with its number and
the others still get their plans.

--explain says, for each rule, whether it matched and why: skipped (disabled,
expired, not on this change type, after a rule with stop), or the value of each
term of its condition (the operands of its top-level && or ||) with what decided
it: the items of any/all/none over a helper (devices(incident), fileHashes(incident),
incident.alerts, ...), the values of a comparison's operands. In JSON the plan
gets "explain": [{"rule", "matched", "skipped", "terms": [{"expr", "value",
"detail", "reached"}]}]. --rule ID explains that rule only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "text" {
				return &exitError{code: 2, err: fmt.Errorf("--format: %q is not json or text", format)}
			}
			if eventPath == "" {
				return &exitError{code: 2, err: fmt.Errorf("--event is required (a file, or - for JSON Lines on stdin)")}
			}
			defer batchGC()()
			rs, err := loadRules(dir)
			if err != nil {
				return err
			}
			if only != "" {
				if _, ok := rs.Rule(only); !ok {
					return &exitError{code: 2, err: fmt.Errorf("--rule: no rule %q in %s%s", only, dir, suggestRule(rs, only))}
				}
				explain = true
			}
			e := &evaluator{rs: rs, format: format, explain: explain, only: only, out: s.out, errOut: s.err}
			if nowStr != "" {
				if e.now, err = time.Parse(time.RFC3339, nowStr); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--now: %w", err)}
				}
			}
			if prevPath != "" {
				ev, err := readEvent(prevPath)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				e.prev = ev.Incident
			}
			if eventPath == "-" {
				return e.lines("stdin", s.in)
			}
			if ext := filepath.Ext(eventPath); ext == ".jsonl" || ext == ".ndjson" {
				f, err := os.Open(eventPath)
				if err != nil {
					return err
				}
				defer f.Close()
				return e.lines(eventPath, f)
			}
			ev, err := readEvent(eventPath)
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			return e.one(ev, true)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "rules", "rules", "rules directory")
	f.StringVar(&eventPath, "event", "", "event file (CloudEvents envelope or bare Graph incident), or - for JSON Lines on stdin")
	f.StringVar(&prevPath, "previous", "", "the incident as previously seen (an event or incident file), for previous and changed()")
	f.StringVar(&format, "format", "text", "output format: text or json")
	f.StringVar(&nowStr, "now", "", "evaluation time (RFC 3339), for expires and now(); default the current time")
	f.BoolVar(&explain, "explain", false, "say for each rule whether it matched and why (each term's value, the deciding items)")
	f.StringVar(&only, "rule", "", "explain only this rule (implies --explain)")
	return cmd
}

// batchGCPercent is the garbage-collection target of the commands that load
// rules and then run through events (eval, replay): loading 1,000 rules
// allocates about 30 MB of small objects that all stay live, and at Go's
// default target of 100 the collector runs all through it, for about a
// quarter of such a command's CPU time (docs/BENCHMARKS.md).
const batchGCPercent = 400

// batchGC sets batchGCPercent unless GOGC is set, and returns the function
// that restores the previous target.
func batchGC() (restore func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	old := debug.SetGCPercent(batchGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// suggestRule is " (did you mean X?)" for the rule id nearest to id, or "".
func suggestRule(rs *rules.RuleSet, id string) string {
	ids := make([]string, len(rs.Rules()))
	for i, r := range rs.Rules() {
		ids[i] = r.ID
	}
	if m := actions.Closest(id, ids); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

type evaluator struct {
	rs      *rules.RuleSet
	prev    *incident.Incident
	now     time.Time
	format  string
	explain bool
	only    string // explain this rule only
	out     io.Writer
	errOut  io.Writer
}

func readEvent(path string) (*incident.Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ev, err := incident.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ev, nil
}

// one evaluates and prints one event.
func (e *evaluator) one(ev *incident.Event, indent bool) error {
	var buf bytes.Buffer
	if err := e.render(&buf, ev, indent); err != nil {
		return err
	}
	_, err := e.out.Write(buf.Bytes())
	return err
}

// explained is the JSON form of a plan with its explanation.
type explained struct {
	*rules.Plan
	Explain []rules.Explanation `json:"explain"`
}

// render evaluates one event and appends its plan (and explanation) to buf.
func (e *evaluator) render(buf *bytes.Buffer, ev *incident.Event, indent bool) error {
	if ev.Thin() {
		return &exitError{code: 1, err: fmt.Errorf("event %s names incident %s without its data: eval needs the whole incident (GET it with $expand=alerts)", ev.ID, ev.IncidentID)}
	}
	in := rules.Input{Event: ev, Previous: e.prev, Now: e.now}
	var v any
	var plan *rules.Plan
	var why []rules.Explanation
	if e.explain {
		var want func(*rules.Rule) bool
		if e.only != "" {
			want = func(r *rules.Rule) bool { return r.ID == e.only }
		}
		plan, why = e.rs.Explain(in, want)
		v = explained{Plan: plan, Explain: why}
	} else {
		plan = e.rs.Evaluate(in)
		v = plan
	}
	if e.format == "text" {
		if err := plan.WriteText(buf); err != nil {
			return err
		}
		if e.explain {
			buf.WriteString("  why:\n")
			return rules.WriteExplainText(buf, why)
		}
		return nil
	}
	enc := json.NewEncoder(buf)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}
