package worker

import (
	"context"
	"errors"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
)

// errNoApprovals: a rule holds an action for approval and the worker has no
// approvals store to hold it in.
var errNoApprovals = errors.New("a rule holds an action for approval, and this worker has no approvals store")

// holdsActions reports whether the plan has actions held for approval.
func (x *execution) holdsActions() bool {
	for _, m := range x.plan.Matches {
		for _, a := range m.Actions {
			if a.Approval {
				return true
			}
		}
	}
	return false
}

// hold records the plan's actions held for approval (approval: required),
// each once per incident whatever the number of events that plan it, and
// audits where each stands: awaiting_approval, or the decision (approved,
// rejected, expired) while the worker has not yet carried it out. A
// decision carried out is not audited again: an approved action is written
// once, by its decision, never as standing desired state of later events.
// It is called on the plan as decided last (after the refresh), so that no
// person is asked about an action the incident as Graph has it does not
// call for.
func (x *execution) hold(ctx context.Context) error {
	x.holds = nil
	for _, m := range x.plan.Matches {
		for _, a := range m.Actions {
			if !a.Approval {
				continue
			}
			store := x.w.opts.Approvals
			if store == nil {
				return consume.Permanent("approval", errNoApprovals)
			}
			id := approval.ID(x.ev.Tenant, x.ev.IncidentID, m.Rule, a.Type, a.Params)
			rec, _, err := store.Hold(ctx, approval.Record{
				ID: id, Tenant: x.ev.Tenant, Incident: x.ev.IncidentID, Rule: m.Rule, Action: a.Type, Params: a.Params,
				Event: x.ev.ID, Subject: x.d.Subject, Created: x.now, Deadline: x.now.Add(x.w.opts.ApprovalTimeout),
			})
			if err != nil {
				return consume.Transient(err)
			}
			if rec.Done {
				continue
			}
			result := "awaiting_approval"
			if rec.Status != approval.Pending {
				result = string(rec.Status)
			}
			ae := x.auditEvent(m.Rule, a.Type, a.Params, result, nil, graph.Info{}, 0)
			ae.Approval, ae.DecidedBy = id, rec.DecidedBy
			x.holds = append(x.holds, ae)
		}
	}
	return nil
}
