package replay

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/graphsoar/graphsoar/internal/rules"
)

// WriteText writes the report for people: the counts, each rule that matched
// with its actions by type, the rules that matched nothing, the invalid
// events, and the differences (+ added, - removed).
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replayed %d events of %d incidents: %d evaluated, %d stale, %d thin (not evaluated: no incident data), %d invalid\n",
		rep.Events, rep.Incidents, rep.Evaluated, rep.Stale, rep.Thin, len(rep.Invalid))
	for _, inv := range rep.Invalid {
		fmt.Fprintf(&b, "  invalid %s: %s\n", inv.Ref, inv.Error)
	}
	var silent []string
	width := 4
	for _, rc := range rep.Rules {
		width = max(width, len(rc.Rule))
	}
	fmt.Fprintf(&b, "%-*s  %7s  %s\n", width, "rule", "matches", "actions")
	for _, rc := range rep.Rules {
		if rc.Matches == 0 && rc.Errors == 0 {
			silent = append(silent, rc.Rule)
			continue
		}
		var acts []string
		for _, typ := range slices.Sorted(maps.Keys(rc.Actions)) {
			acts = append(acts, fmt.Sprintf("%s %d", typ, rc.Actions[typ]))
		}
		line := fmt.Sprintf("%-*s  %7d  %s", width, rc.Rule, rc.Matches, strings.Join(acts, ", "))
		if rc.Errors > 0 {
			line += fmt.Sprintf("  (%d run-time errors)", rc.Errors)
		}
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	if len(silent) > 0 {
		fmt.Fprintf(&b, "%d rules matched nothing: %s\n", len(silent), strings.Join(silent, ", "))
	}
	for _, d := range rep.Diff {
		fmt.Fprintf(&b, "event %s incident %s: plan differs\n", d.Event, d.Incident)
		for _, p := range d.Added {
			fmt.Fprintf(&b, "  + %s %s %s\n", p.Rule, p.Type, rules.FormatParams(p.Params))
		}
		for _, p := range d.Removed {
			fmt.Fprintf(&b, "  - %s %s %s\n", p.Rule, p.Type, rules.FormatParams(p.Params))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteDiffSummary writes one line on the differences against the other rule
// set, named old: how many events plan differently.
func (rep *Report) WriteDiffSummary(w io.Writer, old string) error {
	_, err := fmt.Fprintf(w, "against %s: %d of %d evaluated events plan differently\n", old, len(rep.Diff), rep.Evaluated)
	return err
}
