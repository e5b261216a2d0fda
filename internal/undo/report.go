package undo

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of an undo run, in the order the incidents first
// appear in the audit trail. Its JSON is `graphsoar undo --format json`.
type Report struct {
	Rule      string    `json:"rule"`
	DryRun    bool      `json:"dryRun"`
	Incidents []Outcome `json:"incidents"`
}

// Counts are a report's steps by result, and its incidents whose undo
// stopped (unreadable, or an audit record not stored).
type Counts struct {
	Planned, Applied, Skipped, Failed, Stopped int
}

// Counts counts the steps of this run (not those earlier runs did).
func (r Report) Counts() Counts {
	var c Counts
	for _, o := range r.Incidents {
		if o.Error != "" {
			c.Stopped++
		}
		for _, s := range o.Steps {
			switch {
			case s.Earlier:
			case s.Result == Planned:
				c.Planned++
			case s.Result == Applied:
				c.Applied++
			case s.Result == Skipped:
				c.Skipped++
			case s.Result == Failed:
				c.Failed++
			}
		}
	}
	return c
}

// Failed reports whether a step failed or an incident's undo stopped.
func (r Report) Failed() bool {
	c := r.Counts()
	return c.Failed > 0 || c.Stopped > 0
}

// WriteText prints each incident and its steps, one a line: the result
// ("would" for a dry run's planned step), the action, what it does, why it
// was skipped or failed, and what became of a block's idempotency record.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if r.DryRun {
		fmt.Fprintln(tw, "dry run: nothing is written")
	}
	for _, o := range r.Incidents {
		head := fmt.Sprintf("incident %s (tenant %s)", o.Incident, o.Tenant)
		switch {
		case o.UndoneAt != nil:
			fmt.Fprintf(tw, "%s: rule %s was undone at %s; nothing more to do\n", head, r.Rule, o.UndoneAt.UTC().Format(time.RFC3339))
			continue
		default:
			fmt.Fprintf(tw, "%s: rule %s, %s\n", head, r.Rule, strings.Trim(recordsRef(o.Records), "()"))
		}
		for _, s := range o.Steps {
			result := s.Result
			if result == Planned {
				result = "would"
			}
			line := "  " + result + "\t" + s.Action + "\t" + s.Detail
			switch {
			case s.Earlier:
				line += "  (" + s.Reason + ")"
			case s.Reason != "":
				line += ": " + s.Reason
			case s.GraphStatus != 0:
				line += "  (" + strconv.Itoa(s.GraphStatus) + ")"
			}
			if s.Effect != "" && !s.Earlier {
				line += "; " + s.Effect
			}
			fmt.Fprintln(tw, line)
		}
		if o.Error != "" {
			fmt.Fprintf(tw, "  stopped: %s\n", o.Error)
		}
	}
	return tw.Flush()
}
