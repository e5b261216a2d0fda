package worker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// budgetWindow is the window of the per-incident action budget.
const budgetWindow = time.Hour

// execution carries out the plan of one event.
type execution struct {
	w        *Worker
	d        *consume.Delivery
	ev       *incident.Event
	current  *incident.Incident // the state writes are decided against
	st       *incidentState
	rules    *rules.RuleSet
	previous *incident.Incident
	now      time.Time
	plan     *rules.Plan

	// resumed is the plan recorded by an earlier delivery of the event.
	resumed *planRecord
	// replanned: another party changed the incident, the plan was made again.
	replanned bool

	// holds are the audit records of the plan's actions held for approval
	// (planned leaves them out, but in a dry run).
	holds []AuditEvent

	audits    []AuditEvent
	wrote     bool
	overspent bool
	retry     *consume.Result
	failures  []error
}

// planned lists the plan's actions to carry out with the event: all but
// those held for approval, which only a decision carries out (a dry run
// lists them all).
func (x *execution) planned() []actions.Planned {
	var out []actions.Planned
	for _, m := range x.plan.Matches {
		for _, a := range m.Actions {
			if a.Approval && !x.w.opts.DryRun {
				continue
			}
			out = append(out, actions.Planned{Rule: m.Rule, Type: a.Type, Params: a.Params})
		}
	}
	return out
}

func (x *execution) target() actions.Target {
	return actions.Target{Tenant: x.ev.Tenant, IncidentID: x.ev.IncidentID}
}

// run carries out the plan and returns the event's Result.
func (x *execution) run(ctx context.Context) consume.Result {
	w := x.w
	if len(x.plan.Matches) == 0 && len(x.plan.Errors) == 0 {
		if w.opts.DryRun {
			return consume.Result{Verdict: consume.Ack, Outcome: "dry_run"}
		}
		return consume.Acked() // nothing matched: nothing to write or audit
	}
	reg := x.rules.Registry()
	ops, err := reg.Operations(x.target(), x.planned())
	if err != nil {
		return consume.Dead("plan", err)
	}
	if w.opts.DryRun {
		x.auditPlan("dry_run", ops)
		if len(x.plan.Errors) > 0 {
			w.log.Warn("rule errors (dry run)", "tenant", x.ev.Tenant, "incident", x.ev.IncidentID, "errors", x.plan.Errors)
		}
		return consume.Result{Verdict: consume.Ack, Outcome: "dry_run"}
	}
	hasWrites := len(ops.Effects) > 0 || !ops.Desired.Diff(x.current).Empty()
	if hasWrites && x.ownChangeSettled(ctx, ops) {
		// Our own change came back and everything the plan asks for is there:
		// no GET, no write (the audit says unchanged and duplicate).
		hasWrites = false
	}
	if (hasWrites || x.holdsActions()) && *w.opts.Refresh {
		// Decide on the incident as Graph has it now: the event may be behind
		// an analyst's change, and tags must merge with the current ones; and
		// no person is asked to approve what a stale (or forged) event asks.
		fresh, _, err := w.graph.GetIncident(ctx, x.ev.Tenant, x.ev.IncidentID)
		if errors.Is(err, graph.ErrNotFound) {
			return consume.Dead("incident_not_found", err)
		}
		if err != nil {
			return consume.Decide("refresh", err)
		}
		if err := w.withinBounds(fresh); err != nil {
			return consume.Dead("too_large", fmt.Errorf("incident %s as Graph has it: %w", x.ev.IncidentID, err))
		}
		switch {
		case x.resumed != nil && !x.resumed.changedByOthers(fresh, &ops.Desired):
			// A retry of a plan under way: our own writes changed the
			// incident; what is left of the plan is carried out.
		case x.resumed != nil || fresh.LastUpdateDateTime.After(x.current.LastUpdateDateTime):
			if x.resumed != nil {
				w.log.Info("incident changed by another party since the plan was made: deciding again", "tenant", x.ev.Tenant,
					"incident", x.ev.IncidentID, "event", x.ev.ID, "modified_by", fresh.LastModifiedBy)
				x.replanned = true
			}
			ev := *x.ev
			ev.Incident = fresh
			x.evaluate(ctx, &ev)
			x.resumed = nil
			if ops, err = reg.Operations(x.target(), x.planned()); err != nil {
				return consume.Dead("plan", err)
			}
		}
		x.current = fresh
	}
	if err := x.hold(ctx); err != nil {
		return consume.Decide("approval", err)
	}
	if x.resumed == nil && (len(ops.Effects) > 0 || !ops.Desired.Diff(x.current).Empty()) {
		// Recorded before the first write: a retry finishes this plan.
		rec := &planRecord{Event: x.ev.ID, Version: x.current.LastUpdateDateTime, Fields: fieldsOf(x.current), Plan: *x.plan}
		if err := w.savePlan(ctx, x.d, rec); err != nil {
			return consume.Decide("plan", err)
		}
		x.resumed = rec
	}
	x.write(ctx, reg, ops)
	x.audits = append(x.audits, x.holds...)
	for _, e := range x.plan.Errors {
		x.audits = append(x.audits, x.auditEvent(e.Rule, "rule", nil, "rule_error", errors.New(e.Error), graph.Info{}, 0))
	}
	return x.verdict()
}

// write sends the merged PATCH and then, unless it is to be retried, the
// comments and blocks.
func (x *execution) write(ctx context.Context, reg *actions.Registry, ops actions.Operations) {
	x.patch(ctx, reg, ops)
	if x.retry == nil {
		for _, eff := range ops.Effects {
			x.effect(ctx, eff)
		}
	}
}

// verdict is the event's Result once the plan was carried out.
func (x *execution) verdict() consume.Result {
	w := x.w
	switch {
	case x.retry != nil:
		return *x.retry
	case x.overspent:
		w.metrics.BudgetExceeded.Inc()
		return consume.Dead("action_budget", fmt.Errorf("incident %s made %d Graph writes in the last %v (budget %d): a rule may be looping",
			x.ev.IncidentID, len(x.st.Writes), budgetWindow, w.opts.ActionBudget))
	case len(x.plan.Errors) > 0:
		var errs []error
		for _, e := range x.plan.Errors {
			errs = append(errs, fmt.Errorf("rule %s: %s", e.Rule, e.Error))
		}
		return consume.Dead("rule_error", errors.Join(append(errs, x.failures...)...))
	case len(x.failures) > 0:
		return consume.Decide("graph_permanent", consume.Permanent("graph_permanent", errors.Join(x.failures...)))
	}
	return consume.Acked()
}

// ownChangeSettled reports whether the event is graphsoar's own change
// coming back (an update whose lastModifiedBy is the identity Graph gave our
// writes in this tenant) whose desired state already holds and whose
// comments and blocks are recorded done: the loop ends without asking Graph.
func (x *execution) ownChangeSettled(ctx context.Context, ops actions.Operations) bool {
	if x.ev.Type != incident.Updated || x.current.LastModifiedBy == "" || x.current.LastModifiedBy != x.w.identity(x.ev.Tenant) {
		return false
	}
	if !ops.Desired.Diff(x.current).Empty() {
		return false
	}
	for _, eff := range ops.Effects {
		if !x.w.effectDone(ctx, eff.Key) {
			return false
		}
	}
	return true
}

// allowWrite spends one write of the incident's action budget.
func (x *execution) allowWrite() bool {
	if b := x.w.opts.ActionBudget; b > 0 && x.st.budget(x.now, budgetWindow) >= b {
		x.overspent = true
		return false
	}
	x.st.Writes = append(x.st.Writes, x.now)
	x.st.dirty = true
	x.wrote = true
	return true
}

// fail records a failure: the retryable ones decide the retry (the longest
// delay wins); a release (the partition went elsewhere) wins over all.
func (x *execution) fail(reason string, err error) {
	r := consume.Decide(reason, err)
	if r.Verdict == consume.Release {
		x.retry = &r
		return
	}
	if r.Verdict == consume.Retry {
		if x.retry != nil && x.retry.Verdict == consume.Release {
			return
		}
		if x.retry == nil || r.Delay > x.retry.Delay {
			x.retry = &r
		}
		return
	}
	x.failures = append(x.failures, err)
}

// patch sends the one merged PATCH of the plan, if anything differs.
func (x *execution) patch(ctx context.Context, reg *actions.Registry, ops actions.Operations) {
	p := ops.Desired.Diff(x.current)
	var info graph.Info
	var err error
	result := "applied"
	start := time.Now()
	switch {
	case p.Empty():
	case !x.allowWrite():
		result, err = "skipped", errBudget
	default:
		var updated *incident.Incident
		updated, info, err = x.w.graph.UpdateIncident(ctx, x.ev.Tenant, x.ev.IncidentID, p)
		if updated != nil {
			x.w.learnIdentity(x.ev.Tenant, updated.LastModifiedBy)
		}
		if err != nil {
			x.fail("patch", err)
			result = auditResult(err)
		}
	}
	elapsed := time.Since(start)
	for _, pl := range x.planned() {
		d := reg.Desire(pl)
		if d == nil {
			continue
		}
		r, e := result, err
		switch carried(d, p, x.current) {
		case "unchanged":
			r, e = "unchanged", nil
		case "overridden":
			r, e = "overridden", nil
		}
		a := x.auditEvent(pl.Rule, pl.Type, pl.Params, r, e, info, elapsed)
		if r == "applied" {
			a.Changes, a.TagsAdded = changed(d, p, x.current)
		}
		x.audits = append(x.audits, a)
	}
}

// changed lists what one action's desired state changed through the PATCH
// p sent on the incident cur: the properties with their earlier values, and
// the tags added.
func changed(d *actions.Desired, p actions.Patch, cur *incident.Incident) ([]Change, []string) {
	var changes []Change
	for _, f := range []struct {
		field actions.Field
		sent  *string
	}{{actions.FieldClassification, p.Classification}, {actions.FieldDetermination, p.Determination},
		{actions.FieldStatus, p.Status}, {actions.FieldAssignedTo, p.AssignedTo}} {
		v, ok := d.Value(f.field)
		if ok && f.sent != nil && *f.sent == v && f.field.Of(cur) != v {
			changes = append(changes, Change{Field: string(f.field), From: f.field.Of(cur), To: v})
		}
	}
	var tags []string
	for _, t := range d.Tags() {
		if slices.Contains(p.CustomTags, t) && !slices.Contains(cur.CustomTags, t) {
			tags = append(tags, t)
		}
	}
	return changes, tags
}

// carried says what the merged PATCH did for one action's desired state:
// "sent" (part of the PATCH), "unchanged" (already so) or "overridden" (a
// later rule asked for another value).
func carried(d *actions.Desired, p actions.Patch, cur *incident.Incident) string {
	sent, unchanged := false, true
	for f, ptr := range map[actions.Field]*string{
		actions.FieldClassification: p.Classification, actions.FieldDetermination: p.Determination,
		actions.FieldStatus: p.Status, actions.FieldAssignedTo: p.AssignedTo,
	} {
		v, ok := d.Value(f)
		if !ok {
			continue
		}
		if ptr != nil && *ptr == v {
			sent = true
		}
		if f.Of(cur) != v {
			unchanged = false
		}
	}
	for _, t := range d.Tags() {
		if slices.Contains(p.CustomTags, t) && !slices.Contains(cur.CustomTags, t) {
			sent = true
		}
		if !slices.Contains(cur.CustomTags, t) {
			unchanged = false
		}
	}
	switch {
	case sent:
		return "sent"
	case unchanged:
		return "unchanged"
	}
	return "overridden"
}

// effect carries out one non-idempotent write, at most once.
func (x *execution) effect(ctx context.Context, eff actions.Effect) {
	start := time.Now()
	r := x.w.runEffect(ctx, x, eff)
	if r.err != nil && !errors.Is(r.err, errBudget) {
		x.fail(eff.Action, r.err)
	}
	params := actions.Params{"comment": eff.Comment}
	if eff.Action == "block_file_hash" {
		params = actions.Params{"hash": eff.Hash, "reason": eff.Reason}
	}
	a := x.auditEvent(eff.Rule, eff.Action, params, r.result, r.err, r.info, time.Since(start))
	a.Block = r.block
	x.audits = append(x.audits, a)
}

// auditPlan records every planned action with one result (dry run).
func (x *execution) auditPlan(result string, ops actions.Operations) {
	p := ops.Desired.Diff(x.current)
	for _, pl := range x.planned() {
		r := result
		if d := x.rules.Registry().Desire(pl); d != nil && carried(d, p, x.current) == "unchanged" {
			r = "unchanged"
		}
		a := x.auditEvent(pl.Rule, pl.Type, pl.Params, r, nil, graph.Info{}, 0)
		a.DryRun = true
		x.audits = append(x.audits, a)
	}
}

func (x *execution) auditEvent(rule, action string, params actions.Params, result string, err error, info graph.Info, d time.Duration) AuditEvent {
	return AuditEvent{
		Time: x.w.now(), Tenant: x.ev.Tenant, Incident: x.ev.IncidentID, EventID: x.ev.ID, EventType: string(x.ev.Type),
		Version: x.ev.Incident.LastUpdateDateTime, Rule: rule, Action: action, Params: params, Result: result,
		Error: errString(err), GraphRequestID: info.RequestID, GraphStatus: info.Status,
		DurationMS: float64(d.Microseconds()) / 1000, Replanned: x.replanned,
	}
}
