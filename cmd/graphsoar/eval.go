package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// maxEventLine bounds one JSON Lines event (a large incident with its alerts).
const maxEventLine = 16 << 20

func newEvalCmd(s stdio) *cobra.Command {
	var dir, eventPath, prevPath, format, nowStr string
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Print the plan for an event without writing anything",
		Long: `Evaluate the rules against an event and print the plan: the matching rules in
order with their actions and parameters after templating. --event - reads JSON
Lines from stdin (as does a *.jsonl or *.ndjson file) and prints one plan per
line; a line that cannot be read is reported with its number and the others
still get their plans.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "text" {
				return &exitError{code: 2, err: fmt.Errorf("--format: %q is not json or text", format)}
			}
			if eventPath == "" {
				return &exitError{code: 2, err: fmt.Errorf("--event is required (a file, or - for JSON Lines on stdin)")}
			}
			rs, err := loadRules(dir)
			if err != nil {
				return err
			}
			e := &evaluator{rs: rs, format: format, out: s.out, errOut: s.err}
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
	return cmd
}

type evaluator struct {
	rs     *rules.RuleSet
	prev   *incident.Incident
	now    time.Time
	format string
	out    io.Writer
	errOut io.Writer
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
	if ev.Thin() {
		return &exitError{code: 1, err: fmt.Errorf("event %s names incident %s without its data: eval needs the whole incident (GET it with $expand=alerts)", ev.ID, ev.IncidentID)}
	}
	plan := e.rs.Evaluate(rules.Input{Event: ev, Previous: e.prev, Now: e.now})
	if e.format == "text" {
		return plan.WriteText(e.out)
	}
	enc := json.NewEncoder(e.out)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(plan)
}

// lines evaluates JSON Lines: one event a line, one plan a line.
func (e *evaluator) lines(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxEventLine)
	line, events, failed := 0, 0, 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		events++
		// The event keeps its bytes; the scanner reuses its buffer.
		b := bytes.Clone(sc.Bytes())
		ev, err := incident.Decode(b)
		if err == nil {
			err = e.one(ev, false)
		}
		if err != nil {
			failed++
			fmt.Fprintf(e.errOut, "%s:%d: %v\n", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d events could not be evaluated", failed, events)}
	}
	return nil
}
