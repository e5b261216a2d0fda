package undo

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// The actions of undo's own audit records. Their Params carry "step" (the
// step's key), "detail" (what the step does), "records" (the audit sequences
// of the rule's records being undone), when skipped "reason", on undo_tag
// "tags" (those removed), on undo_block "hash" and "effectRecord" (what
// became of the block's idempotency record); a failed step's error is in
// Error. An undo_comment with "complete": "true" closes the
// undo of its records: a later run leaves them alone.
const (
	ActionPatch   = "undo_patch"
	ActionTag     = "undo_tag"
	ActionBlock   = "undo_block"
	ActionComment = "undo_comment"
)

// Step keys of the property groups. Classification and determination go
// back together: Defender validates them as a pair.
const (
	KeyStatus     = "status"
	KeyPair       = "classification+determination"
	KeyAssignedTo = "assignedTo"
	KeyTags       = "tags"
	KeyComment    = "comment"
)

// Plan is what there is to undo of one rule on one incident: the rule's
// applied actions that no earlier undo run finished.
type Plan struct {
	Tenant, Incident, Rule string
	// Records are the audit sequences of the applied actions undone here,
	// oldest first; none when an earlier run finished them all (UndoneAt).
	Records []uint64
	// Groups are the properties the rule's PATCHes changed.
	Groups []Group
	// Tags are the tags the rule added, in the order it added them.
	Tags []string
	// Blocks are the indicators (or legacy security actions) it created.
	Blocks []worker.BlockRef
	// Comments are the comments it posted: they stay, the correction
	// comment says they no longer apply.
	Comments []string
	// Unknown are applied records that do not say what they changed
	// (written before graphsoar recorded it): left alone.
	Unknown []Record
	// Earlier are the applied steps of an earlier, unfinished run over the
	// same records, by step key: they are not done again.
	Earlier map[string]Record
	// UndoneAt is when an earlier run finished the undo (Records empty).
	UndoneAt time.Time
}

// Group is one property (or the classification and determination pair)
// and the changes the rule made to it, newest first.
type Group struct {
	Key     string
	Fields  []string
	Changes [][]worker.Change // each: one record's changes of Fields
}

// Plans groups the records of one rule (as Read returns them, oldest first)
// by incident, in the order the incidents first appear, and plans the undo
// of each incident's applied actions. blockWith is the backend a block
// recorded without a BlockRef is looked for in.
func Plans(recs []Record, rule, blockWith string) []Plan {
	type key struct{ tenant, incident string }
	var order []key
	byIncident := map[key][]Record{}
	for _, r := range recs {
		if r.Rule != rule || r.DryRun {
			continue
		}
		k := key{r.Tenant, r.Incident}
		if _, ok := byIncident[k]; !ok {
			order = append(order, k)
		}
		byIncident[k] = append(byIncident[k], r)
	}
	var plans []Plan
	for _, k := range order {
		if p, ok := planIncident(byIncident[k], rule, blockWith); ok {
			plans = append(plans, p)
		}
	}
	return plans
}

// planIncident plans one incident's undo from its records, oldest first.
func planIncident(recs []Record, rule, blockWith string) (Plan, bool) {
	p := Plan{Tenant: recs[0].Tenant, Incident: recs[0].Incident, Rule: rule}
	covered := map[uint64]bool{}
	for _, r := range recs {
		if r.Action == ActionComment && r.Params.String("complete") == "true" {
			for _, s := range Seqs(r.Params) {
				covered[s] = true
			}
			p.UndoneAt = r.Time
		}
	}
	var originals []Record
	for _, r := range recs {
		if !isUndo(r.Action) && r.Result == "applied" && !covered[r.Seq] {
			originals = append(originals, r)
			p.Records = append(p.Records, r.Seq)
		}
	}
	if len(originals) == 0 {
		return p, !p.UndoneAt.IsZero()
	}
	p.UndoneAt = time.Time{}
	for _, r := range recs {
		if isUndo(r.Action) && r.Result == "applied" && slices.Equal(Seqs(r.Params), p.Records) {
			if p.Earlier == nil {
				p.Earlier = map[string]Record{}
			}
			p.Earlier[r.Params.String("step")] = r
		}
	}
	groups := map[string]*Group{}
	for i := len(originals) - 1; i >= 0; i-- { // newest first
		for _, g := range splitGroups(patchChanges(originals[i])) {
			if groups[g.Key] == nil {
				groups[g.Key] = &Group{Key: g.Key, Fields: g.Fields}
			}
			groups[g.Key].Changes = append(groups[g.Key].Changes, g.Changes...)
		}
	}
	for _, k := range []string{KeyStatus, KeyPair, KeyAssignedTo} { // a fixed order
		if g := groups[k]; g != nil {
			p.Groups = append(p.Groups, *g)
		}
	}
	for _, r := range originals { // oldest first
		switch r.Action {
		case "classify", "set_status", "assign", "tag":
			if len(r.Changes) == 0 && len(r.TagsAdded) == 0 {
				p.Unknown = append(p.Unknown, r)
			}
			for _, t := range r.TagsAdded {
				if !slices.Contains(p.Tags, t) {
					p.Tags = append(p.Tags, t)
				}
			}
		case "block_file_hash":
			ref := worker.BlockRef{Backend: blockWith, Hash: r.Params.String("hash")}
			if r.Block != nil {
				ref = *r.Block
			}
			switch {
			case ref.Hash == "":
				p.Unknown = append(p.Unknown, r)
			case !slices.ContainsFunc(p.Blocks, func(b worker.BlockRef) bool { return b.Hash == ref.Hash }):
				p.Blocks = append(p.Blocks, ref)
			}
		case "comment":
			p.Comments = append(p.Comments, r.Params.String("comment"))
		default:
			p.Unknown = append(p.Unknown, r)
		}
	}
	return p, true
}

// patchChanges are the property changes of a PATCH action's record. A
// classify record that changed one of the pair also names the other as the
// rule set it (unchanged), so that the pair is undone only while Graph still
// shows both as the rule set them.
func patchChanges(r Record) []worker.Change {
	changes := slices.Clone(r.Changes)
	if r.Action != "classify" {
		return changes
	}
	has := func(f string) bool {
		return slices.ContainsFunc(changes, func(c worker.Change) bool { return c.Field == f })
	}
	if !has(string(actions.FieldClassification)) && !has(string(actions.FieldDetermination)) {
		return changes
	}
	for _, f := range []actions.Field{actions.FieldClassification, actions.FieldDetermination} {
		if v, ok := r.Params[string(f)].(string); ok && !has(string(f)) {
			changes = append(changes, worker.Change{Field: string(f), From: v, To: v})
		}
	}
	return changes
}

// splitGroups sorts one record's changes into their groups.
func splitGroups(changes []worker.Change) []Group {
	var out []Group
	for _, g := range []Group{
		{Key: KeyStatus, Fields: []string{string(actions.FieldStatus)}},
		{Key: KeyPair, Fields: []string{string(actions.FieldClassification), string(actions.FieldDetermination)}},
		{Key: KeyAssignedTo, Fields: []string{string(actions.FieldAssignedTo)}},
	} {
		var cs []worker.Change
		for _, c := range changes {
			if slices.Contains(g.Fields, c.Field) {
				cs = append(cs, c)
			}
		}
		if len(cs) > 0 {
			g.Changes = [][]worker.Change{cs}
			out = append(out, g)
		}
	}
	return out
}

// Seqs reads the "records" parameter of an undo record: the audit
// sequences it undid, in decimal (Params hold strings and lists of them).
func Seqs(p actions.Params) []uint64 {
	list := p.List("records")
	out := make([]uint64, 0, len(list))
	for _, s := range list {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// seqParam is the "records" parameter of seqs.
func seqParam(seqs []uint64) []string {
	out := make([]string, len(seqs))
	for i, s := range seqs {
		out[i] = strconv.FormatUint(s, 10)
	}
	return out
}

func isUndo(action string) bool { return strings.HasPrefix(action, "undo_") }
