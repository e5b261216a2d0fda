package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// handleDecision carries out a decision about a held action: the message
// with approval.Header that approvals approve/reject (or the sweep, for an
// expiry) publish on the incident's subject. It runs in order with the
// incident's events, under the incident's lock and action budget. An
// approved action is written as it was planned (a PATCH that sends what
// still differs, a comment or block under its idempotency record); a
// rejected or expired one is audited. The record is finished after the
// audit is stored, so a crash in between carries the decision out again,
// which writes nothing twice.
func (w *Worker) handleDecision(ctx context.Context, d *consume.Delivery, id string) consume.Result {
	store := w.opts.Approvals
	if store == nil {
		return consume.Dead("approval", fmt.Errorf("decision %s: %w", id, errNoApprovals))
	}
	rec, _, err := store.Get(ctx, id)
	if errors.Is(err, approval.ErrNotFound) {
		w.log.Warn("decision about an unknown approval skipped", "approval", id, "subject", d.Msg.Subject(), "seq", d.Seq())
		return consume.Skipped("approval_unknown")
	}
	if err != nil {
		return consume.Decide("approval", consume.Transient(err))
	}
	if (d.Tenant != "" && rec.Tenant != d.Tenant) || (d.Incident != "" && rec.Incident != d.Incident) {
		return consume.Dead("subject_mismatch", fmt.Errorf("decision %s on subject %s is about tenant %s incident %s",
			id, d.Msg.Subject(), rec.Tenant, rec.Incident))
	}
	d.Label(rec.Tenant, rec.Incident, "approval:"+id)
	// A decision carried out before is not carried out again, unless it
	// failed and its dead letter is replayed (dlq replay, the live page).
	again := d.Msg.Headers().Get(consume.HeaderReplayOf) != "" && rec.Status == approval.Approved && rec.Result != "applied"
	if (rec.Done && !again) || rec.Status == approval.Pending {
		return consume.Skipped("approval_" + string(rec.Status))
	}
	w.claimBudget(rec.Tenant, d.Epoch)
	key := stateKey(rec.Tenant, rec.Incident)
	entry, err := w.states.load(ctx, key, d.Partition)
	if err != nil {
		return consume.Decide("state", consume.Transient(err))
	}
	defer entry.mu.Unlock()
	ev := &incident.Event{ID: "approval:" + id, Type: incident.Updated, Tenant: rec.Tenant, IncidentID: rec.Incident,
		Incident: &incident.Incident{ID: rec.Incident}}
	rs := w.opts.Rules.Current()
	x := &execution{w: w, d: d, ev: ev, st: entry.st, rules: rs, now: w.now(),
		plan: &rules.Plan{Matches: []rules.Match{{Rule: rec.Rule, Actions: []rules.PlannedAction{{Type: rec.Action, Params: rec.Params}}}}}}
	result := consume.Acked()
	if rec.Status == approval.Approved {
		result = x.carryOutApproved(ctx)
	} else {
		x.audits = append(x.audits, x.auditEvent(rec.Rule, rec.Action, rec.Params, string(rec.Status), nil, graph.Info{}, 0))
	}
	for i := range x.audits {
		x.audits[i].Approval, x.audits[i].DecidedBy = id, rec.DecidedBy
	}
	if err := w.audit(ctx, d, x.audits); err != nil {
		w.metrics.AuditFailures.Inc()
		return consume.Decide("audit", consume.Transient(fmt.Errorf("audit records not stored: %w", err)))
	}
	if x.wrote {
		if err := w.states.persist(ctx, key, entry); err != nil && result.Verdict != consume.Retry && result.Verdict != consume.Release {
			return consume.Decide("state", consume.Transient(err))
		}
	}
	if result.Verdict == consume.Retry || result.Verdict == consume.Release {
		return result
	}
	outcome, errText := string(rec.Status), ""
	if len(x.audits) > 0 {
		outcome, errText = x.audits[0].Result, x.audits[0].Error
	}
	if _, err := store.Finish(ctx, id, outcome, errText, again); err != nil {
		return consume.Decide("approval", consume.Transient(err))
	}
	return result
}

// carryOutApproved writes the approved action on the incident as Graph has
// it now.
func (x *execution) carryOutApproved(ctx context.Context) consume.Result {
	fresh, _, err := x.w.graph.GetIncident(ctx, x.ev.Tenant, x.ev.IncidentID)
	if errors.Is(err, graph.ErrNotFound) {
		x.auditFailed(err)
		return consume.Acked() // nothing left to act on; the record says failed
	}
	if err != nil {
		return consume.Decide("refresh", err)
	}
	x.ev.Incident, x.current = fresh, fresh
	reg := x.rules.Registry()
	ops, err := reg.Operations(x.target(), x.planned())
	if err != nil {
		err = fmt.Errorf("approved action: %w", err)
		x.auditFailed(err)
		return consume.Dead("plan", err)
	}
	x.write(ctx, reg, ops)
	return x.verdict()
}

// auditFailed audits the approved action as failed before any write.
func (x *execution) auditFailed(err error) {
	m := x.plan.Matches[0]
	x.audits = append(x.audits, x.auditEvent(m.Rule, m.Actions[0].Type, m.Actions[0].Params, "failed", err, graph.Info{}, 0))
}
