// Package approval holds actions that a rule marks `approval: required`
// until a person approves or rejects them, or they expire. A held action is a
// Record in a JetStream key-value bucket (it survives restarts); a decision is
// a compare-and-set on the record followed by a message on the incident's own
// subject, so that the replica owning the incident carries it out in order
// with the incident's events, once.
package approval

import (
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// Status is where a held action stands.
type Status string

// Statuses. Pending is the only one a decision may change.
const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Rejected Status = "rejected"
	Expired  Status = "expired"
)

// Record is one held action.
type Record struct {
	// ID is the record's key: a digest of tenant, incident, rule, action and
	// parameters, so that the same action on the same incident is held once
	// however many events ask for it.
	ID       string         `json:"id"`
	Tenant   string         `json:"tenant"`
	Incident string         `json:"incident"`
	Rule     string         `json:"rule"`
	Action   string         `json:"action"`
	Params   actions.Params `json:"params,omitempty"`
	// Event is the id of the event whose plan held the action; Subject is
	// where the producer published it (a decision is published there).
	Event   string    `json:"event"`
	Subject string    `json:"subject"`
	Created time.Time `json:"created"`
	// Deadline is when a pending action expires (approvalTimeout after Created).
	Deadline time.Time `json:"deadline"`
	Status   Status    `json:"status"`
	// DecidedBy and DecidedAt name the decision (the worker for an expiry).
	DecidedBy string    `json:"decidedBy,omitempty"`
	DecidedAt time.Time `json:"decidedAt,omitempty"`
	// Done is set once the worker has carried out the decision (written an
	// approved action, audited a rejection or an expiry); Result is the
	// audit result it recorded.
	Done   bool   `json:"done,omitempty"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	// Resent counts the times a sweep published the decision again (it was
	// not carried out in time), last at ResentAt.
	Resent   int       `json:"resent,omitempty"`
	ResentAt time.Time `json:"resentAt,omitzero"`
}
