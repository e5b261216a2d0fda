package incident

import (
	"time"
)

// ChangeType is what happened to an incident: "created" or "updated".
type ChangeType string

// The change types of the event envelope (the suffix of the CloudEvents type).
const (
	Created ChangeType = "created"
	Updated ChangeType = "updated"
)

// CloudEvents types of incident events.
const (
	TypeCreated = "com.microsoft.graph.security.incident.created"
	TypeUpdated = "com.microsoft.graph.security.incident.updated"
)

// Form is the shape an event arrived in.
type Form string

// The accepted event forms.
const (
	FormEnvelope Form = "envelope" // CloudEvents structured mode with the whole incident
	FormThin     Form = "thin"     // CloudEvents envelope whose data holds only the id
	FormBare     Form = "bare"     // a Graph incident object without an envelope
)

// Event is an incident change event as graphsoar reads it from NATS or a file.
type Event struct {
	ID         string     // CloudEvents id; for a bare incident, its Key()
	Source     string     // CloudEvents source ("" for a bare incident)
	Type       ChangeType // created or updated
	Time       time.Time  // CloudEvents time, else the incident's lastUpdateDateTime
	Tenant     string     // tenantid extension, else the incident's tenantId
	IncidentID string     // always set
	Form       Form
	// Incident is the incident the event carries; for a thin event it holds only
	// the id until the worker completes it with a Graph GET (see Complete).
	Incident *Incident
}

// Thin reports whether the event names the incident without carrying it.
func (e *Event) Thin() bool { return e.Form == FormThin }

// Complete replaces a thin event's incident with the one fetched from Graph.
// It returns an error when the fetched incident is another one.
func (e *Event) Complete(inc *Incident) error {
	if inc == nil || inc.ID != e.IncidentID {
		got := "<nil>"
		if inc != nil {
			got = inc.ID
		}
		return &DecodeError{EventID: e.ID, Field: "data.id", Msg: "fetched incident " + got + " is not " + e.IncidentID}
	}
	if e.Tenant == "" {
		e.Tenant = inc.TenantID
	}
	e.Incident = inc
	if e.Form == FormThin {
		e.Form = FormEnvelope
	}
	return nil
}

// Key is the deduplication key of this version of the incident,
// "<tenant>:<incident>:<lastUpdateDateTime>", which producers put in the
// Nats-Msg-Id header. It is empty for a thin event.
func (e *Event) Key() string {
	if e.Incident == nil || e.Incident.LastUpdateDateTime.IsZero() {
		return ""
	}
	return VersionKey(e.Tenant, e.IncidentID, e.Incident.LastUpdateDateTime)
}

// VersionKey formats "<tenant>:<incident>:<lastUpdateDateTime>" with the time in
// RFC 3339 UTC with as many fractional digits as it has.
func VersionKey(tenant, incidentID string, lastUpdate time.Time) string {
	return tenant + ":" + incidentID + ":" + lastUpdate.UTC().Format(time.RFC3339Nano)
}
