package incident

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	fastjson "github.com/goccy/go-json"
)

// DecodeError says why an event could not be read: which event (its id, when it
// could be read) and which field.
type DecodeError struct {
	EventID string
	Field   string
	Msg     string
	Err     error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("event")
	if e.EventID != "" {
		b.WriteString(" " + e.EventID)
	}
	if e.Field != "" {
		b.WriteString(": " + e.Field)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// envelope is the CloudEvents structured-mode JSON object.
type envelope struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            string    `json:"time"`
	TenantID        string    `json:"tenantid"`
	DataContentType string    `json:"datacontenttype"`
	Data            *Incident `json:"data"`
}

// Decode reads one event: a CloudEvents 1.0 structured-mode envelope whose data
// is a Graph incident (or only {"id": ...}, a thin event), or a bare Graph
// incident. It checks what the worker relies on (an incident id, a known change
// type, a consistent tenant and subject) and returns a *DecodeError naming the
// event and field otherwise. Unknown properties, evidence types and enum values
// are accepted. The event keeps b (for Evidence.Get): the caller must not
// modify it afterwards.
func Decode(b []byte) (*Event, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, &DecodeError{Msg: "empty"}
	}
	if b[0] != '{' {
		return nil, &DecodeError{Msg: "not a JSON object"}
	}
	var env envelope
	if err := unmarshal(b, &env); err != nil {
		return nil, jsonError(env.ID, err)
	}
	if env.SpecVersion == "" {
		return decodeBare(b)
	}
	if env.Data != nil {
		env.Data.link(b, "data")
	}
	return fromEnvelope(&env)
}

func fromEnvelope(env *envelope) (*Event, error) {
	fail := func(field, format string, args ...any) (*Event, error) {
		return nil, &DecodeError{EventID: env.ID, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if env.SpecVersion != "1.0" {
		return fail("specversion", "%q is not supported (want \"1.0\")", env.SpecVersion)
	}
	if env.ID == "" {
		return fail("id", "missing")
	}
	if ct := env.DataContentType; ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fail("datacontenttype", "%q is not application/json", ct)
	}
	ev := &Event{ID: env.ID, Source: env.Source, Tenant: env.TenantID, Form: FormEnvelope}
	switch env.Type {
	case TypeCreated:
		ev.Type = Created
	case TypeUpdated:
		ev.Type = Updated
	case "":
		return fail("type", "missing")
	default:
		return fail("type", "%q is not %s or %s", env.Type, TypeCreated, TypeUpdated)
	}
	inc := env.Data
	if inc == nil {
		return fail("data", "missing")
	}
	if inc.ID == "" {
		return fail("data.id", "missing")
	}
	if env.Subject != "" && env.Subject != inc.ID {
		return fail("subject", "%q does not match data.id %q", env.Subject, inc.ID)
	}
	if inc.TenantID != "" {
		if ev.Tenant == "" {
			ev.Tenant = inc.TenantID
		} else if ev.Tenant != inc.TenantID {
			return fail("tenantid", "%q does not match data.tenantId %q", ev.Tenant, inc.TenantID)
		}
	}
	if env.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, env.Time)
		if err != nil {
			return fail("time", "%q is not an RFC 3339 time", env.Time)
		}
		ev.Time = t
	} else {
		ev.Time = inc.LastUpdateDateTime
	}
	ev.IncidentID = inc.ID
	ev.Incident = inc
	if isThin(inc) {
		ev.Form = FormThin
	}
	return ev, nil
}

func decodeBare(b []byte) (*Event, error) {
	var inc Incident
	if err := unmarshal(b, &inc); err != nil {
		return nil, jsonError("", err)
	}
	inc.link(b, "")
	if inc.ID == "" {
		return nil, &DecodeError{Field: "id", Msg: "missing (neither a CloudEvents envelope nor a Graph incident)"}
	}
	ev := &Event{
		Type:       Updated,
		Time:       inc.LastUpdateDateTime,
		Tenant:     inc.TenantID,
		IncidentID: inc.ID,
		Form:       FormBare,
		Incident:   &inc,
	}
	if isThin(&inc) {
		ev.Form = FormThin
	} else if inc.CreatedDateTime.Equal(inc.LastUpdateDateTime) {
		ev.Type = Created
	}
	ev.ID = ev.Key()
	if ev.ID == "" {
		ev.ID = inc.ID
	}
	return ev, nil
}

// isThin reports whether inc names an incident without describing it: a Graph
// incident always has a status, a severity and its timestamps.
func isThin(inc *Incident) bool {
	return inc.Status == "" && inc.Severity == "" && inc.CreatedDateTime.IsZero() &&
		inc.LastUpdateDateTime.IsZero() && inc.DisplayName == "" && len(inc.Alerts) == 0
}

// DecodeIncident reads a bare Graph incident (as GET /security/incidents/{id}
// returns it). The incident keeps b: the caller must not modify it afterwards.
func DecodeIncident(b []byte) (*Incident, error) {
	var inc Incident
	if err := unmarshal(b, &inc); err != nil {
		return nil, jsonError("", err)
	}
	if inc.ID == "" {
		return nil, &DecodeError{Field: "id", Msg: "missing"}
	}
	inc.link(b, "")
	return &inc, nil
}

// decodeOptions: lenient where Graph's own output could surprise (duplicate
// names, invalid UTF-8 in free text); unknown members are ignored.
func decodeOptions() json.Options {
	return json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}

// unmarshal decodes with goccy/go-json, about twice as fast as the v2 decoder
// on incidents; when that fails, the v2 decoder decodes again to name the
// field precisely (its errors carry JSON pointers with array indices).
func unmarshal(b []byte, v any) error {
	if err := fastjson.Unmarshal(b, v); err == nil {
		return nil
	}
	return json.Unmarshal(b, v, decodeOptions())
}

// jsonError turns a decoding error into a DecodeError naming the field (as
// data.alerts[0].severity).
func jsonError(eventID string, err error) error {
	var se *json.SemanticError
	var sx *jsontext.SyntacticError
	switch {
	case errors.As(err, &se):
		field := fieldPath(se.JSONPointer)
		var pe *time.ParseError
		if errors.As(err, &pe) {
			return &DecodeError{EventID: eventID, Field: field, Msg: fmt.Sprintf("%q is not an RFC 3339 time", strings.Trim(pe.Value, `"`)), Err: err}
		}
		if se.GoType == reflect.TypeFor[time.Time]() && len(se.JSONValue) > 0 {
			return &DecodeError{EventID: eventID, Field: field, Msg: fmt.Sprintf("%s is not an RFC 3339 time", se.JSONValue), Err: err}
		}
		msg := "cannot be decoded"
		if se.GoType != nil && se.JSONKind != 0 {
			msg = fmt.Sprintf("cannot use JSON %s as %s", kindName(se.JSONKind), se.GoType)
		} else if se.Err != nil {
			msg = se.Err.Error()
		}
		return &DecodeError{EventID: eventID, Field: field, Msg: msg, Err: err}
	case errors.As(err, &sx):
		return &DecodeError{EventID: eventID, Field: fieldPath(sx.JSONPointer), Msg: fmt.Sprintf("invalid JSON at byte %d: %v", sx.ByteOffset, sx.Err), Err: err}
	}
	return &DecodeError{EventID: eventID, Msg: err.Error(), Err: err}
}

// fieldPath writes a JSON pointer (/data/alerts/0/severity) as
// data.alerts[0].severity.
func fieldPath(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return k.String()
}
