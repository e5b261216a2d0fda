package worker

import (
	"context"
	"errors"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// errNoApprovals: a rule holds an action and the worker has no approvals
// store to hold it in.
var errNoApprovals = errors.New("a rule holds an action for approval, and this worker has no approvals store")

func (x *execution) approvalID(rule string, a rules.PlannedAction) string {
	return approval.ID(x.ev.Tenant, x.ev.IncidentID, rule, a.Type, a.Params)
}

// hold records the plan's actions that wait for approval (approval:
// required), each once per incident, and audits where each stands:
// awaiting_approval, rejected, expired, or approved while the worker carries
// the decision out. An action approved and carried out before runs with the
// rest of the plan (its PATCH is desired state, its comment or block has its
// idempotency record). planned leaves the others out.
func (x *execution) hold(ctx context.Context) error {
	x.held, x.holds = nil, nil
	for _, m := range x.plan.Matches {
		for _, a := range m.Actions {
			if !a.Approval {
				continue
			}
			store := x.w.opts.Approvals
			if store == nil {
				return consume.Permanent("approval", errNoApprovals)
			}
			id := x.approvalID(m.Rule, a)
			rec, _, err := store.Hold(ctx, approval.Record{
				ID: id, Tenant: x.ev.Tenant, Incident: x.ev.IncidentID, Rule: m.Rule, Action: a.Type, Params: a.Params,
				Event: x.ev.ID, Subject: x.d.Subject, Created: x.now, Deadline: x.now.Add(x.w.opts.ApprovalTimeout),
			})
			if err != nil {
				return consume.Transient(err)
			}
			if rec.Status == approval.Approved && rec.Done {
				continue
			}
			if x.held == nil {
				x.held = map[string]bool{}
			}
			x.held[id] = true
			result := "awaiting_approval"
			switch rec.Status {
			case approval.Rejected, approval.Expired, approval.Approved:
				result = string(rec.Status)
			}
			ae := x.auditEvent(m.Rule, a.Type, a.Params, result, nil, graph.Info{}, 0)
			ae.Approval, ae.DecidedBy = id, rec.DecidedBy
			x.holds = append(x.holds, ae)
		}
	}
	return nil
}
