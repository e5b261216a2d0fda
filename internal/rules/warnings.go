package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Warning is something in a rule set that loads but most likely is not what
// its author meant: a rule that is skipped or can never run, a list that no
// rule reads, a list value written twice. A warning never stops a load.
type Warning struct {
	Pos Pos
	Msg string
}

// String formats the warning as "path:line:col: warning: message".
func (w Warning) String() string { return w.Pos.String() + ": warning: " + w.Msg }

// Warnings returns the rule set's warnings at time now, in file and position
// order:
//   - an enabled rule whose expires is before now (it is skipped), at its
//     expires value;
//   - an enabled, unexpired rule that can never run because an earlier rule
//     (by order), enabled and unexpired, whose condition is the literal true,
//     which runs on every change type the later rule runs on and has stop:
//     true, ends every evaluation first; at the later rule's id, naming the
//     earlier rule and its position;
//   - a list that no rule's condition or template reads, at its name;
//   - a list value that repeats an earlier one of the same list once
//     normalised as the loader does (hex hashes lower-cased, spaces trimmed),
//     at the repeat, naming the first.
//
// A disabled rule is not a warning, and has none.
func (rs *RuleSet) Warnings(now time.Time) []Warning {
	out := slices.Clone(rs.warnings)
	var stoppers []*Rule // enabled, unexpired, when: true, stop: true; by order
	for _, r := range rs.rules {
		if !r.Enabled {
			continue
		}
		if r.expired(now) {
			out = append(out, Warning{Pos: r.expiresPos,
				Msg: fmt.Sprintf("rule %q expired at %s and is skipped", r.ID, r.Expires.Format(time.RFC3339))})
			continue
		}
		for _, s := range stoppers {
			if s.covers(r) {
				out = append(out, Warning{Pos: r.idPos, Msg: shadowed(r, s)})
				break
			}
		}
		if r.Stop && strings.TrimSpace(r.When) == "true" {
			stoppers = append(stoppers, r)
		}
	}
	slices.SortStableFunc(out, func(a, b Warning) int { return comparePos(a.Pos, b.Pos) })
	return out
}

// expired reports whether the rule is skipped at now for its expires.
func (r *Rule) expired(now time.Time) bool {
	return !r.Expires.IsZero() && now.After(r.Expires)
}

// covers reports whether r runs on every change type later runs on.
func (r *Rule) covers(later *Rule) bool {
	return (r.onCreated || !later.onCreated) && (r.onUpdated || !later.onUpdated)
}

// shadowed explains why rule r cannot run while rule by is in force.
func shadowed(r, by *Rule) string {
	never, until := "can never run", ""
	if !by.Expires.IsZero() {
		never = "cannot run before " + by.Expires.Format(time.RFC3339)
		until = " until it expires"
	}
	return fmt.Sprintf("rule %q %s: rule %q at %s comes first (order %d), matches every incident (when: true) on the change types %s runs on, and has stop: true%s",
		r.ID, never, by.ID, by.idPos, by.Order, r.ID, until)
}

// unusedLists warns about each list that no expression reads.
func unusedLists(at map[string]Pos, read listUse) []Warning {
	if read.all {
		return nil
	}
	names := make([]string, 0, len(at))
	for name := range at {
		if !read.names[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make([]Warning, len(names))
	for i, name := range names {
		out[i] = Warning{Pos: at[name], Msg: fmt.Sprintf("list %q is not used: no rule's condition or template reads lists.%s", name, name)}
	}
	return out
}
