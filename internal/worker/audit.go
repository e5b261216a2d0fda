package worker

import (
	"encoding/json"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
)

// AuditEvent records the outcome of one planned action. It is published to
// graphsoar.audit.<tenant>.<incident>.
type AuditEvent struct {
	Time      time.Time      `json:"time"`
	Worker    string         `json:"worker"`
	Tenant    string         `json:"tenant"`
	Incident  string         `json:"incident"`
	EventID   string         `json:"event"`
	EventType string         `json:"eventType"`
	Version   time.Time      `json:"version"` // the incident's lastUpdateDateTime
	Rule      string         `json:"rule"`
	Action    string         `json:"action"`
	Params    actions.Params `json:"params,omitempty"`
	// Result is applied, unchanged (already in the desired state), duplicate
	// (written before: idempotency), failed, pending (retried), skipped (the
	// action budget), dry_run, or rule_error.
	Result         string  `json:"result"`
	Error          string  `json:"error,omitempty"`
	GraphRequestID string  `json:"graphRequestId,omitempty"`
	GraphStatus    int     `json:"graphStatus,omitempty"`
	DurationMS     float64 `json:"durationMs"`
	DryRun         bool    `json:"dryRun,omitempty"`
}

// AuditSubject is graphsoar.audit.<tenant>.<incident>.
func AuditSubject(tenant, incidentID string) string {
	return "graphsoar.audit." + broker.SubjectToken(tenant) + "." + broker.SubjectToken(incidentID)
}

// audit publishes audit events without waiting for JetStream (an audit
// publish never holds up an event); failures are logged and counted.
func (w *Worker) audit(events []AuditEvent) {
	for i := range events {
		e := &events[i]
		e.Worker = w.opts.ID
		b, err := json.Marshal(e)
		if err != nil {
			w.log.Error("audit event not encoded", "err", err)
			continue
		}
		w.metrics.Actions.WithLabelValues(e.Action, e.Result).Inc()
		if _, err := w.js.PublishAsync(AuditSubject(e.Tenant, e.Incident), b); err != nil {
			w.log.Warn("audit event not published", "tenant", e.Tenant, "incident", e.Incident, "err", err)
		}
	}
}
