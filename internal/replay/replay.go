// Package replay is graphsoar's backtest: it evaluates a sequence of recorded
// incident events in order, as the worker would (previous carried per
// incident, stale versions skipped), writes nothing, and reports what the
// rules would have done: per rule the events matched and the actions planned
// by type, and, against another rule set, the events whose plan differs.
//
// It knows rules and incidents only; events come as an iterator of raw
// payloads (Lines reads a JSON Lines export; the streamsrc package reads a
// JetStream stream).
package replay

import (
	"context"
	"iter"
	"time"

	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// Raw is one recorded event as read: its payload and where it came from.
type Raw struct {
	Data []byte
	// Ref names the event's place for messages: "export.jsonl:12",
	// "INCIDENTS#1234".
	Ref string
	// Done and Total are the source's progress after this event (bytes or
	// messages); Total is 0 when unknown.
	Done, Total int64
}

// Options are the rule sets of a replay and its clock.
type Options struct {
	Rules *rules.RuleSet
	// Against, when set, is evaluated on the same events (with its own
	// previous per incident) and the plans compared.
	Against *rules.RuleSet
	// Now is the evaluation time of every event; zero means each event's own
	// time (its CloudEvents time, else the incident's lastUpdateDateTime), as
	// a worker handling it live would have seen.
	Now time.Time
}

// state is what the worker keeps of an incident: the newest version handled
// and what each rule set remembers of it for the next event's previous.
type state struct {
	version       time.Time
	prev, prevOld *incident.Incident
}

// Run replays the events in order and returns the report. An event that
// cannot be decoded is counted and listed in Report.Invalid; an event that
// carries only the incident id (thin) cannot be evaluated without Graph and
// is counted in Report.Thin; an event whose incident version is not newer
// than the last one handled is skipped as stale, as the worker skips it. The
// iterator's error ends the replay with it; so does ctx.
func Run(ctx context.Context, opts Options, events iter.Seq2[Raw, error]) (*Report, error) {
	rep := newReport(opts.Rules)
	states := map[string]*state{}
	for raw, err := range events {
		if err != nil {
			return rep, err
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Events++
		ev, err := incident.Decode(raw.Data)
		if err != nil {
			rep.Invalid = append(rep.Invalid, Invalid{Ref: raw.Ref, Error: err.Error()})
			continue
		}
		key := ev.Tenant + "/" + ev.IncidentID
		st, seen := states[key]
		if !seen {
			st = &state{}
			states[key] = st
		}
		if ev.Thin() {
			rep.Thin++
			continue
		}
		version := ev.Incident.LastUpdateDateTime
		if !st.version.IsZero() && !version.After(st.version) {
			rep.Stale++
			continue
		}
		now := opts.Now
		if now.IsZero() {
			now = ev.Time
		}
		if now.IsZero() {
			now = time.Now()
		}
		rep.Evaluated++
		plan := opts.Rules.Evaluate(rules.Input{Event: ev, Previous: st.prev, Now: now})
		rep.count(plan)
		st.prev = opts.Rules.Remember(ev.Incident)
		if opts.Against != nil {
			old := opts.Against.Evaluate(rules.Input{Event: ev, Previous: st.prevOld, Now: now})
			st.prevOld = opts.Against.Remember(ev.Incident)
			if d, ok := diff(old, plan); ok {
				rep.Diff = append(rep.Diff, d)
			}
		}
		st.version = version
	}
	rep.Incidents = len(states)
	return rep, nil
}
