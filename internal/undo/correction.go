package undo

import (
	"fmt"
	"strings"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// correctionPrefix begins every correction comment of a rule.
func correctionPrefix(rule string) string {
	return "graphsoar undo: rule " + rule + "'s changes were reverted"
}

// recordsRef names the audit records a correction comment is about; it ends
// the comment, so that a run can tell the comment of these records is
// already on the incident.
func recordsRef(seqs []uint64) string {
	if len(seqs) == 1 {
		return fmt.Sprintf("(audit record #%d)", seqs[0])
	}
	return fmt.Sprintf("(audit records #%d–#%d)", seqs[0], seqs[len(seqs)-1])
}

// correctionText is the one correction comment of an undo: what was
// reverted (or found reverted already), what was left alone because someone
// changed it since, and that the rule's comments no longer apply. steps are
// the outcomes so far (a dry run counts its planned steps as done).
func correctionText(p Plan, steps []Step) string {
	var done, alone []string
	for _, s := range steps {
		ok := s.Result == Applied || s.Result == Planned
		switch {
		case ok && s.Action == ActionPatch:
			done = append(done, s.Detail)
		case ok && s.Action == ActionTag:
			done = append(done, "tags removed: "+strings.Join(s.remove, ", "))
		case ok && s.Action == ActionBlock:
			done = append(done, blockDone(s))
		case s.restored && s.Action == ActionPatch:
			done = append(done, s.Detail+" (found so already)")
		case s.restored && s.Action == ActionTag:
			done = append(done, strings.TrimPrefix(s.Detail, "remove ")+" found removed already")
		case s.LeftAlone && s.Action == ActionPatch:
			alone = append(alone, fmt.Sprintf("%s (now %s)", s.Key, s.now))
		case s.LeftAlone && s.Action == ActionBlock:
			alone = append(alone, "the indicator of "+s.hash)
		}
	}
	var b strings.Builder
	b.WriteString(correctionPrefix(p.Rule))
	if len(done) == 0 {
		b.WriteString(": nothing was left to revert.")
	} else {
		b.WriteString(": " + strings.Join(done, "; ") + ".")
	}
	if len(alone) > 0 {
		b.WriteString(" Left alone, changed since: " + strings.Join(alone, "; ") + ".")
	}
	switch n := len(p.Comments); n {
	case 0:
	case 1:
		b.WriteString(" Its comment on this incident no longer applies.")
	default:
		fmt.Fprintf(&b, " Its %d comments on this incident no longer apply.", n)
	}
	b.WriteString(" " + recordsRef(p.Records))
	return b.String()
}

// blockDone says what a block step undid.
func blockDone(s Step) string {
	if strings.HasPrefix(s.Detail, "cancel") {
		return strings.Replace(s.Detail, "cancel ", "", 1) + " cancelled"
	}
	return strings.Replace(s.Detail, "delete ", "", 1) + " deleted"
}

// decideComment decides the correction comment once the other steps are
// done: it is not posted while a step failed (a later run finishes the
// undo and posts it), nor when the comment of these records is already on
// the incident (an earlier run posted it but could not record that).
func decideComment(p Plan, steps []Step, cur *incident.Incident) Step {
	text := correctionText(p, steps)
	s := Step{Action: ActionComment, Key: KeyComment, Detail: text}
	for _, st := range steps {
		if st.Result == Failed {
			s.Result, s.Reason = Skipped, "not posted while a step failed: run undo again to finish"
			return s
		}
	}
	prefix, ref := correctionPrefix(p.Rule), recordsRef(p.Records)
	for _, c := range cur.Comments {
		if c != nil && strings.HasPrefix(c.Comment, prefix) && strings.HasSuffix(c.Comment, ref) {
			s.Result, s.Reason = Skipped, "already on the incident, posted at "+c.CreatedDateTime.UTC().Format("2006-01-02T15:04:05Z")
			s.complete = true
			return s
		}
	}
	s.Result, s.text = Planned, text
	return s
}
