package undo

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// Step results. A planned step has a write to make (a dry run stops there).
const (
	Planned = "planned"
	Applied = "applied"
	Skipped = "skipped"
	Failed  = "failed"
)

// Step is one step of undoing a rule on an incident, and its outcome.
type Step struct {
	Action string `json:"action"` // undo_patch, undo_tag, undo_block, undo_comment
	Key    string `json:"step"`   // status, classification+determination, assignedTo, tags, block:<hash>, comment, record:<seq>
	Detail string `json:"detail"` // what the step does (or would have done)
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"` // why it was skipped or failed
	// LeftAlone: someone changed it after graphsoar, so it was not undone.
	LeftAlone bool `json:"leftAlone,omitempty"`
	// Earlier: an earlier undo run did it.
	Earlier bool `json:"earlier,omitempty"`
	// Effect: undo_block: what became of the block's idempotency record in
	// the worker's effects bucket once the block was gone.
	Effect      string  `json:"effectRecord,omitempty"`
	GraphStatus int     `json:"graphStatus,omitempty"`
	DurationMS  float64 `json:"durationMs,omitempty"`

	set     map[string]string // undo_patch: the properties to write
	changes []worker.Change   // undo_patch: from graphsoar's value to the restored one
	remove  []string          // undo_tag: the tags to remove
	block   graph.Block       // undo_block: what to delete or cancel
	text    string            // undo_comment: the correction comment
	// complete: the correction comment is on the incident (undo_comment).
	complete bool
	hash     string // undo_block: the hash blocked
	// effectKey: undo_block: the idempotency record to clear once the
	// block is gone.
	effectKey string
	now       string // undo_patch left alone: the value Graph shows now
	// restored: undo_patch or undo_tag skipped: Graph already shows the
	// incident as before the rule.
	restored bool
	info     graph.Info // the write's answer
}

// decideGroup decides how one property group goes back on cur: walking the
// rule's changes newest first, each whose values Graph still shows goes back
// to its earlier values; the walk stops at the first one Graph no longer
// shows (someone changed it since). When even the newest is no longer
// shown, the group is left alone, unless Graph shows the values from before
// the rule: then it is already back (an undo run that stopped between its
// PATCH and its audit record, or someone, put it back).
func decideGroup(g Group, cur *incident.Incident) Step {
	s := Step{Action: ActionPatch, Key: g.Key}
	now := map[string]string{}
	for _, f := range g.Fields {
		now[f] = actions.Field(f).Of(cur)
	}
	vals := maps.Clone(now)
	walked := 0
	for _, cs := range g.Changes {
		if slices.ContainsFunc(cs, func(c worker.Change) bool { return vals[c.Field] != c.To }) {
			break
		}
		for _, c := range cs {
			vals[c.Field] = c.From
		}
		walked++
	}
	if walked == 0 {
		// What the rule set and what it found, for the message.
		set, found := maps.Clone(now), maps.Clone(now)
		for _, c := range g.Changes[0] {
			set[c.Field] = c.To
		}
		for _, c := range g.Changes[len(g.Changes)-1] {
			found[c.Field] = c.From
		}
		unknownIfNone(found)
		s.Detail = fmt.Sprintf("%s %s → %s", label(g.Fields), join(g.Fields, set), join(g.Fields, found))
		if maps.Equal(found, now) {
			s.Result, s.restored = Skipped, true
			s.Reason = fmt.Sprintf("already back: %s is %s now, as before the rule", label(g.Fields), join(g.Fields, now))
			return s
		}
		s.Result, s.LeftAlone, s.now = Skipped, true, join(g.Fields, now)
		s.Reason = fmt.Sprintf("changed since: %s is %s now, not %s as the rule set it; left alone", label(g.Fields), join(g.Fields, now), join(g.Fields, set))
		return s
	}
	unknownIfNone(vals)
	s.Detail = fmt.Sprintf("%s %s → %s", label(g.Fields), join(g.Fields, now), join(g.Fields, vals))
	for _, f := range g.Fields {
		if vals[f] != now[f] {
			if s.set == nil {
				s.set = map[string]string{}
			}
			s.set[f] = vals[f]
			s.changes = append(s.changes, worker.Change{Field: f, From: now[f], To: vals[f]})
		}
	}
	switch {
	case len(s.set) == 0:
		s.Result, s.Reason = Skipped, fmt.Sprintf("%s is already %s", label(g.Fields), join(g.Fields, now))
	case g.Key == KeyStatus && vals[string(actions.FieldStatus)] == "":
		s.Result, s.Reason = Skipped, "the earlier status is not known; left alone"
	case g.Key == KeyPair && actions.CheckPair(vals[string(actions.FieldClassification)], vals[string(actions.FieldDetermination)]) != nil:
		err := actions.CheckPair(vals[string(actions.FieldClassification)], vals[string(actions.FieldDetermination)])
		s.Result, s.Reason = Skipped, fmt.Sprintf("Defender does not take that pair (%v); left alone", err)
	default:
		s.Result = Planned
		return s
	}
	s.set, s.changes = nil, nil
	return s
}

// unknownIfNone writes no classification or determination as Graph shows
// it, and writes it back: unknown.
func unknownIfNone(vals map[string]string) {
	for _, f := range []string{string(actions.FieldClassification), string(actions.FieldDetermination)} {
		if v, ok := vals[f]; ok && v == "" {
			vals[f] = "unknown"
		}
	}
}

// decideTags decides the removal of the tags the rule added: those cur
// still has are removed, the others are already gone.
func decideTags(tags []string, cur *incident.Incident) Step {
	s := Step{Action: ActionTag, Key: KeyTags}
	var gone []string
	for _, t := range tags {
		if slices.Contains(cur.CustomTags, t) {
			s.remove = append(s.remove, t)
		} else {
			gone = append(gone, t)
		}
	}
	if len(s.remove) == 0 {
		s.Detail = "remove tags " + strings.Join(tags, ", ")
		s.Result, s.Reason, s.restored = Skipped, "already removed: "+strings.Join(gone, ", "), true
		return s
	}
	s.Detail = "remove tags " + strings.Join(s.remove, ", ")
	if len(gone) > 0 {
		s.Detail += " (already removed: " + strings.Join(gone, ", ") + ")"
	}
	s.Result = Planned
	return s
}

// IndicatorTitle is the title graphsoar gives the indicators of a rule.
func IndicatorTitle(rule string) string { return "graphsoar: " + rule }

// decideIndicator decides the deletion of the indicator a rule created for
// ref's hash, given the tenant's indicator of that hash now (nil: none).
// Only an indicator still titled as the rule's is deleted: one someone
// retitled, or another rule took over, is left alone.
func decideIndicator(ref worker.BlockRef, found *graph.Indicator, rule string) Step {
	s := Step{Action: ActionBlock, Key: "block:" + ref.Hash, hash: ref.Hash}
	if found == nil {
		s.Detail = "delete the indicator of " + ref.Hash
		s.Result, s.Reason = Skipped, "no indicator of "+ref.Hash+" any more"
		return s
	}
	id := string(found.ID)
	s.Detail = fmt.Sprintf("delete indicator %s of %s", id, ref.Hash)
	if found.Title != IndicatorTitle(rule) {
		s.Result, s.LeftAlone = Skipped, true
		s.Reason = fmt.Sprintf("changed since: indicator %s is titled %q now, not %q; left alone", id, found.Title, IndicatorTitle(rule))
		return s
	}
	s.Result, s.block = Planned, graph.Block{Backend: graph.BlockIndicators, ID: id}
	return s
}

// decideSecurityAction decides the cancellation of a legacy security
// action, which the audit record must name.
func decideSecurityAction(ref worker.BlockRef) Step {
	s := Step{Action: ActionBlock, Key: "block:" + ref.Hash, hash: ref.Hash}
	if ref.ID == "" {
		s.Detail = "cancel the security action blocking " + ref.Hash
		s.Result, s.Reason = Skipped, "the audit record names no security action id (recorded before graphsoar kept it): "+
			"cancel the action blocking "+ref.Hash+" by hand in Defender"
		return s
	}
	s.Detail = fmt.Sprintf("cancel security action %s blocking %s", ref.ID, ref.Hash)
	s.Result, s.block = Planned, graph.Block{Backend: graph.BlockSecurityActions, ID: ref.ID}
	return s
}

// unknownStep reports an applied record undo cannot reverse.
func unknownStep(r Record) Step {
	return Step{Action: ActionPatch, Key: fmt.Sprintf("record:%d", r.Seq), Detail: fmt.Sprintf("%s %s", r.Action, paramText(r.Params)),
		Result: Skipped, Reason: "the audit record does not say what it changed (written before undo existed); left alone"}
}

// earlierStep is a step an earlier undo run of the same records applied.
func earlierStep(r Record) Step {
	return Step{Action: r.Action, Key: r.Params.String("step"), Detail: r.Params.String("detail"), Result: Applied, Earlier: true,
		Reason: "done by an earlier undo run at " + r.Time.UTC().Format("2006-01-02T15:04:05Z"), hash: r.Params.String("hash"),
		Effect: r.Params.String("effectRecord"), remove: r.Params.List("tags")}
}

func paramText(p actions.Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%v", k, p[k]))
	}
	return strings.Join(parts, " ")
}

// label names a group's fields: "status", "classification/determination".
func label(fields []string) string { return strings.Join(fields, "/") }

// join gives a group's values in field order; an empty value is "(none)".
func join(fields []string, vals map[string]string) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = vals[f]
		if parts[i] == "" {
			parts[i] = "(none)"
		}
	}
	return strings.Join(parts, "/")
}
