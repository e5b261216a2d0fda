package graphfake

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

const incidentType = "microsoft.graph.security.incident"

// patchIncident answers PATCH /security/incidents/{id}. Only Graph's documented
// updatable properties are accepted (assignedTo, classification, determination, status,
// customTags, plus the @odata.type annotation the SDK sends); any other property, an
// enum value that is not Graph's camelCase spelling, or customTags that are not an
// array of strings is 400 invalidRequest, and nothing is applied.
//
// A PATCH that changes at least one value moves lastUpdateDateTime forward and sets
// lastModifiedBy. A PATCH whose values all equal the stored ones returns 200 and leaves
// the incident, lastUpdateDateTime included, untouched: this keeps a desired-state
// client's redundant writes from looking like new changes to a poller (Graph does not
// document either way). The response is the incident without alerts.
func (s *Server) patchIncident(x *exchange, id string) {
	body, _, err := decodeObject(x.body)
	if err != nil {
		x.invalid("Invalid request body: " + err.Error())
		return
	}
	changes, err := incidentChanges(body, x.includeUnknownEnumMembers())
	if err != nil {
		x.invalid(err.Error())
		return
	}

	s.mu.Lock()
	inc := s.visibleIncident(x.tenant(), id)
	if inc == nil {
		s.mu.Unlock()
		x.notFound("Incident '" + id + "' was not found.")
		return
	}
	changed := false
	for k, v := range changes {
		if cur, ok := inc[k]; !ok || !sameJSON(cur, v) {
			inc[k] = v
			changed = true
		}
	}
	if changed {
		inc["lastUpdateDateTime"] = formatStamp(s.nextStamp(inc["lastUpdateDateTime"]))
		inc["lastModifiedBy"] = s.actor(x)
	}
	v := view(inc, false, nil, x.includeUnknownEnumMembers())
	v["@odata.context"] = x.root() + "/" + version(x) + "/$metadata#security/incidents/$entity"
	b, err := marshal(v)
	s.mu.Unlock()
	if err != nil {
		x.fail(500, codeGeneral, "Encoding the response failed.")
		return
	}
	x.writeRaw(200, b, contentTypeOData)
}

// incidentChanges validates a PATCH body and returns the properties to set.
func incidentChanges(body map[string]any, includeUnknown bool) (map[string]any, error) {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same error for the same body every time
	changes := make(map[string]any, len(body))
	for _, k := range keys {
		v := body[k]
		switch k {
		case "@odata.type":
			t, ok := v.(string)
			if !ok || strings.TrimPrefix(t, "#") != incidentType {
				return nil, fmt.Errorf("invalid @odata.type %v: %s expected", jsonText(v), "#"+incidentType)
			}
		case "assignedTo":
			if _, ok := v.(string); !ok && v != nil {
				return nil, fmt.Errorf("invalid value %s for property 'assignedTo': a string or null is expected", jsonText(v))
			}
			changes[k] = v
		case "status", "classification", "determination":
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("invalid value %s for property '%s': a string is expected", jsonText(v), k)
			}
			if !validEnum(k, str) || (str == statusAwaitingAction && !includeUnknown) {
				return nil, fmt.Errorf("requested value '%s' was not found for property '%s'", str, k)
			}
			changes[k] = str
		case "customTags":
			tags, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("invalid value %s for property 'customTags': an array of strings is expected", jsonText(v))
			}
			for _, t := range tags {
				if _, ok := t.(string); !ok {
					return nil, fmt.Errorf("invalid value %s in 'customTags': an array of strings is expected", jsonText(t))
				}
			}
			changes[k] = tags
		default:
			return nil, fmt.Errorf("the property '%s' does not exist on type '%s' or cannot be updated; updatable properties are assignedTo, classification, determination, status and customTags", k, incidentType)
		}
	}
	return changes, nil
}

// sameJSON reports whether two decoded JSON values are equal, whatever Go types an
// Update callback used for them.
func sameJSON(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	ja, err1 := marshal(a)
	jb, err2 := marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// jsonText renders a decoded JSON value for an error message.
func jsonText(v any) string {
	b, err := marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
