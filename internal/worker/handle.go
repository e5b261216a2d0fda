package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// Handle is the consume Handler: it reads the event, completes a thin one
// from Graph, skips it when an equal or newer version of the incident was
// handled, evaluates the rules, carries out the plan, stores the audit
// records and the incident's state, and says what becomes of the event.
// Errors go through consume.Decide, the one table of verdicts.
func (w *Worker) Handle(ctx context.Context, d *consume.Delivery) (r consume.Result) {
	if id := d.Msg.Headers().Get(approval.Header); id != "" {
		return w.handleDecision(ctx, d, id)
	}
	if n := len(d.Msg.Data()); n > w.opts.MaxEventBytes {
		return consume.Dead("too_large", fmt.Errorf("event of %d bytes, more than the limit of %d", n, w.opts.MaxEventBytes))
	}
	ev, err := incident.Decode(d.Msg.Data())
	if err != nil {
		return consume.Dead("malformed", err)
	}
	if ev.Tenant == "" {
		ev.Tenant = d.Tenant
	}
	if (d.Tenant != "" && ev.Tenant != d.Tenant) || (d.Incident != "" && ev.IncidentID != d.Incident) {
		return consume.Dead("subject_mismatch", fmt.Errorf("subject %s names tenant %s incident %s, the event tenant %s incident %s",
			d.Msg.Subject(), d.Tenant, d.Incident, ev.Tenant, ev.IncidentID))
	}
	if ev.Tenant == "" {
		return consume.Dead("no_tenant", fmt.Errorf("event %s: no tenant (tenantid, data.tenantId or the subject)", ev.ID))
	}
	d.Label(ev.Tenant, ev.IncidentID, ev.ID)
	w.claimBudget(ev.Tenant, d.Epoch)
	if ev.Thin() {
		inc, _, err := w.graph.GetIncident(ctx, ev.Tenant, ev.IncidentID)
		if errors.Is(err, graph.ErrNotFound) {
			return consume.Dead("incident_not_found", fmt.Errorf("thin event %s: %w", ev.ID, err))
		}
		if err != nil {
			return consume.Decide("fetch_incident", err)
		}
		if err := ev.Complete(inc); err != nil {
			return consume.Dead("fetch_incident", err)
		}
	}
	if err := w.withinBounds(ev.Incident); err != nil {
		return consume.Dead("too_large", fmt.Errorf("event %s: %w", ev.ID, err))
	}
	if limit := w.now().Add(w.opts.FutureSkew); ev.Incident.LastUpdateDateTime.After(limit) {
		// A version from the future would be recorded as handled and make
		// every genuine event look stale: do not trust it; read the
		// incident from Graph.
		inc, _, err := w.graph.GetIncident(ctx, ev.Tenant, ev.IncidentID)
		if err != nil {
			return consume.Decide("future_version", consume.Because("future_version", err))
		}
		if inc.LastUpdateDateTime.After(limit) {
			return consume.Dead("future_version", fmt.Errorf("event %s claims version %s and Graph has %s, both beyond now plus %v",
				ev.ID, ev.Incident.LastUpdateDateTime.Format(time.RFC3339), inc.LastUpdateDateTime.Format(time.RFC3339), w.opts.FutureSkew))
		}
		if err := w.withinBounds(inc); err != nil {
			return consume.Dead("too_large", fmt.Errorf("event %s: %w", ev.ID, err))
		}
		w.log.Warn("event from the future: using the incident as Graph has it", "tenant", ev.Tenant, "incident", ev.IncidentID,
			"event", ev.ID, "claimed", ev.Incident.LastUpdateDateTime, "graph", inc.LastUpdateDateTime)
		ev.Incident = inc
	}
	key := stateKey(ev.Tenant, ev.IncidentID)
	entry, err := w.states.load(ctx, key, d.Partition)
	if err != nil {
		return consume.Decide("state", consume.Transient(err))
	}
	defer entry.mu.Unlock()
	st := entry.st
	version := ev.Incident.LastUpdateDateTime
	replayOf := d.Msg.Headers().Get(consume.HeaderReplayOf)
	if replayOf != "" {
		done, err := w.replayed(ctx, replayOf)
		if err != nil {
			return consume.Decide("replay", err)
		}
		if done {
			w.log.Info("replay skipped: this dead letter was replayed and handled before", "replay_of", replayOf, "event", ev.ID)
			return consume.Skipped("replayed")
		}
		defer func() {
			// Once handled for good (not when it is tried again).
			if r.Verdict == consume.Ack || r.Verdict == consume.DeadLetter {
				w.markReplayed(ctx, replayOf)
			}
		}()
	}
	if replayOf == "" && !st.Version.IsZero() && !version.After(st.Version) {
		w.log.Info("stale event skipped: a newer version of the incident was handled", "tenant", ev.Tenant, "incident", ev.IncidentID,
			"event", ev.ID, "version", version, "handled", st.Version, "seq", d.Seq())
		return consume.Skipped("stale")
	}

	rs := w.opts.Rules.Current()
	x := &execution{w: w, d: d, ev: ev, current: ev.Incident, st: st, rules: rs, previous: st.prev, now: w.now()}
	resumed, err := w.loadPlan(ctx, d)
	if err != nil {
		return consume.Decide("plan", err)
	}
	if resumed != nil {
		// A retry: finish the plan made before, unless another party
		// changed the incident since (run decides after its refresh).
		x.resumed, x.plan = resumed, &resumed.Plan
	} else {
		x.evaluate(ctx, ev)
	}
	result := x.run(ctx)
	if x.resumed != nil && result.Verdict != consume.Retry && result.Verdict != consume.Release {
		defer w.forgetPlan(ctx, d)
	}
	if err := w.audit(ctx, d, x.audits); err != nil {
		// An audit record must not be lost silently: the event is tried
		// again (what was written is recorded, and is not written again).
		w.metrics.AuditFailures.Inc()
		return consume.Decide("audit", consume.Transient(fmt.Errorf("audit records not stored: %w", err)))
	}
	if result.Verdict == consume.Retry || result.Verdict == consume.Release {
		// Nothing more to remember: the event comes again. What it wrote
		// counts against the action budget at once.
		if x.wrote {
			if err := w.states.persist(ctx, key, entry); err != nil {
				w.log.Warn("incident state not stored", "key", key, "err", err)
			}
		}
		return result
	}
	// Only what the rules read through previous is remembered; a replay of
	// an older version does not move the version back.
	prev := rs.Remember(ev.Incident)
	prevChanged := !reflect.DeepEqual(prev, st.prev)
	st.prev = prev
	if version.After(st.Version) {
		st.Version = version
	}
	st.dirty = true
	// Before the ack: a change of what the next event reads as previous,
	// and the writes the action budget counts. A change of the version
	// alone is stored later, at eviction or release (nothing reads it but
	// the stale check, and the refresh before every write guards that).
	if x.wrote || prevChanged || len(x.plan.Matches) > 0 {
		if err := w.states.persist(ctx, key, entry); err != nil {
			return consume.Decide("state", consume.Transient(err))
		}
	}
	return result
}

// evaluate runs the rules on an event and counts matches and errors, in
// the span "evaluate" (an error status when a rule failed).
func (x *execution) evaluate(ctx context.Context, ev *incident.Event) {
	_, span := x.w.tracer.Start(ctx, "evaluate")
	defer span.End()
	x.plan = x.rules.Evaluate(rules.Input{Event: ev, Previous: x.previous, Now: x.now})
	for _, m := range x.plan.Matches {
		x.w.metrics.RuleMatches.WithLabelValues(m.Rule).Inc()
	}
	for _, e := range x.plan.Errors {
		x.w.metrics.RuleErrors.WithLabelValues(e.Rule).Inc()
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("graphsoar.rules", len(x.rules.Rules())),
			attribute.StringSlice("graphsoar.matched_rules", x.plan.MatchedRules()), attribute.Int("graphsoar.rule_errors", len(x.plan.Errors)))
		if len(x.plan.Errors) > 0 {
			span.SetStatus(codes.Error, "rule "+x.plan.Errors[0].Rule+": "+x.plan.Errors[0].Error)
		}
	}
}

// replayKey is the record of a dead letter's replay handled.
func replayKey(replayOf string) string {
	return "replayed." + broker.KeyToken(replayOf)
}

// replayed reports whether a dead letter's replay was handled before.
func (w *Worker) replayed(ctx context.Context, replayOf string) (bool, error) {
	_, err := w.opts.State.Get(ctx, replayKey(replayOf))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kv.ErrNotFound):
		return false, nil
	}
	return false, consume.Transient(err)
}

// markReplayed records a replay handled (best effort: a second replay of the
// same dead letter within the stream's duplicate window is dropped by
// JetStream anyway).
func (w *Worker) markReplayed(ctx context.Context, replayOf string) {
	_, _ = w.opts.State.Put(context.WithoutCancel(ctx), replayKey(replayOf), []byte(w.now().UTC().Format(time.RFC3339)))
}

// withinBounds checks an incident against the size, alert and evidence
// bounds: one an event carried was checked with the event; one read from
// Graph (a thin event, a refresh) is checked here, as the rules' cost bound
// assumes it.
func (w *Worker) withinBounds(inc *incident.Incident) error {
	if n := inc.Size(); n > w.opts.MaxEventBytes {
		return fmt.Errorf("incident of %d bytes, more than the limit of %d", n, w.opts.MaxEventBytes)
	}
	if n := len(inc.Alerts); n > w.opts.MaxAlerts {
		return fmt.Errorf("%d alerts, more than the limit of %d", n, w.opts.MaxAlerts)
	}
	n := 0
	for _, a := range inc.Alerts {
		if a != nil {
			n += len(a.Evidence)
		}
	}
	if n > w.opts.MaxEvidence {
		return fmt.Errorf("%d evidence items, more than the limit of %d", n, w.opts.MaxEvidence)
	}
	return nil
}
