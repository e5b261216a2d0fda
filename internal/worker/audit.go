package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
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
	// Replanned: another party changed the incident while the event was
	// retried, and its plan was decided again on the incident as it is.
	Replanned bool `json:"replanned,omitempty"`
	// Changes are the incident properties this action's part of the PATCH
	// changed, each with its earlier value (result applied): what undo
	// puts back where Graph still shows To.
	Changes []Change `json:"changes,omitempty"`
	// TagsAdded are the tags this action's part of the PATCH added (result
	// applied): what undo removes.
	TagsAdded []string `json:"tagsAdded,omitempty"`
	// Block names the indicator (or legacy security action) a
	// block_file_hash created (result applied): what undo deletes.
	Block *BlockRef `json:"block,omitempty"`
	// Approval is the id of the approval record of a held action (results
	// awaiting_approval, rejected, expired, and the outcome once approved);
	// DecidedBy names who approved or rejected it.
	Approval  string `json:"approval,omitempty"`
	DecidedBy string `json:"decidedBy,omitempty"`
}

// Change is one incident property a PATCH changed.
type Change struct {
	Field string `json:"field"` // status, classification, determination or assignedTo
	From  string `json:"from"`
	To    string `json:"to"`
}

// BlockRef names what a block_file_hash created: Backend is indicators or
// securityActions; ID is "" when the response that made it was unreadable.
type BlockRef struct {
	Backend string `json:"backend"`
	ID      string `json:"id,omitempty"`
	Hash    string `json:"hash"`
}

// AuditSubject is graphsoar.audit.<tenant>.<incident>.
func AuditSubject(tenant, incidentID string) string {
	return "graphsoar.audit." + broker.SubjectToken(tenant) + "." + broker.SubjectToken(incidentID)
}

// audit stores the audit records of one handling and waits for JetStream
// to acknowledge them: an event is not acknowledged before its records are
// stored, so none is lost silently. Each record has a message id (stream,
// sequence, delivery, position), so a publish retried is stored once.
func (w *Worker) audit(ctx context.Context, d *consume.Delivery, events []AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	msgs := make([]broker.Message, 0, len(events))
	for i := range events {
		e := &events[i]
		e.Worker = w.opts.ID
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		w.metrics.Actions.WithLabelValues(e.Action, e.Result).Inc()
		msgs = append(msgs, broker.Message{Subject: AuditSubject(e.Tenant, e.Incident), Data: b,
			MsgID: fmt.Sprintf("audit:%s:%d:%d:%d", d.Meta.Stream, d.Seq(), d.Meta.NumDelivered, i)})
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return w.opts.Audit.PublishAll(actx, msgs)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
