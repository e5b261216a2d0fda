package worker

import (
	"context"
	"fmt"

	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// handle is the worker's Handler: it reads the event, completes a thin one
// from Graph, skips it when an equal or newer version of the incident was
// handled, evaluates the rules and carries out the plan.
func (w *Worker) handle(ctx context.Context, d *Delivery) Result {
	ev, err := incident.Decode(d.Msg.Data())
	if err != nil {
		return dead("malformed", err)
	}
	if ev.Tenant == "" {
		ev.Tenant = d.Tenant
	}
	if (d.Tenant != "" && ev.Tenant != d.Tenant) || (d.Incident != "" && ev.IncidentID != d.Incident) {
		return dead("subject_mismatch", fmt.Errorf("subject %s names tenant %s incident %s, the event tenant %s incident %s",
			d.Msg.Subject(), d.Tenant, d.Incident, ev.Tenant, ev.IncidentID))
	}
	if ev.Tenant == "" {
		return dead("no_tenant", fmt.Errorf("event %s: no tenant (tenantid, data.tenantId or the subject)", ev.ID))
	}
	d.dlqTenant, d.dlqIncident, d.eventID = ev.Tenant, ev.IncidentID, ev.ID
	if ev.Thin() {
		inc, _, err := w.graph.GetIncident(ctx, ev.Tenant, ev.IncidentID)
		if err != nil {
			return retryOrDead("fetch_incident", err)
		}
		if err := ev.Complete(inc); err != nil {
			return dead("fetch_incident", err)
		}
	}
	key := stateKey(ev.Tenant, ev.IncidentID)
	entry, err := w.states.load(ctx, key, d.Partition)
	if err != nil {
		return retryOrDead("state", err)
	}
	defer entry.mu.Unlock()
	st := entry.st
	version := ev.Incident.LastUpdateDateTime
	if !st.Version.IsZero() && !version.After(st.Version) {
		w.log.Debug("stale event skipped", "tenant", ev.Tenant, "incident", ev.IncidentID, "version", version, "handled", st.Version)
		return skip("stale")
	}

	rs := w.rules.Current()
	x := &execution{w: w, ev: ev, current: ev.Incident, st: st, rules: rs, previous: st.prev, now: w.now()}
	x.evaluate(ev)
	result := x.run(ctx)
	w.audit(x.audits)
	if result.Verdict == Retry {
		// Nothing to remember: the event comes again.
		if x.wrote {
			w.persistQuietly(ctx, key, entry)
		}
		return result
	}

	// Only what the rules read through previous is remembered.
	st.prev = rs.Remember(ev.Incident)
	st.Version = version
	st.dirty = true
	if x.wrote {
		// After a Graph write, what was done is stored before the ack.
		w.persistQuietly(ctx, key, entry)
	}
	return result
}

func (w *Worker) persistQuietly(ctx context.Context, key string, e *stateEntry) {
	if err := w.states.persist(ctx, key, e); err != nil {
		w.log.Warn("incident state not stored", "key", key, "err", err)
	}
}

// evaluate runs the rules on an event and counts matches and errors.
func (x *execution) evaluate(ev *incident.Event) {
	x.plan = x.rules.Evaluate(rules.Input{Event: ev, Previous: x.previous, Now: x.now})
	for _, m := range x.plan.Matches {
		x.w.metrics.RuleMatches.WithLabelValues(m.Rule).Inc()
	}
	for _, e := range x.plan.Errors {
		x.w.metrics.RuleErrors.WithLabelValues(e.Rule).Inc()
	}
}
