package graphfake

import (
	"fmt"
	"maps"
)

// Incident returns a deep copy of the stored incident id, alerts included, whatever
// the tenant. Numbers are json.Number, as decoded from the seed.
func (s *Server) Incident(id string) (map[string]any, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	inc, ok := s.incidents[id]
	if !ok {
		return nil, false
	}
	return deepCopy(inc), true
}

// Incidents returns deep copies of every stored incident, in list order (createdDateTime
// then id).
func (s *Server) Incidents() []map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	all := s.matching("", listQuery{})
	out := make([]map[string]any, len(all))
	for i, inc := range all {
		out[i] = deepCopy(inc)
	}
	return out
}

// Comments returns deep copies of the comments of incident id (nil when it has none or
// is unknown).
func (s *Server) Comments(id string) []map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	inc, ok := s.incidents[id]
	if !ok {
		return nil
	}
	list, _ := inc["comments"].([]any)
	var out []map[string]any
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			out = append(out, deepCopy(m))
		}
	}
	return out
}

// Update simulates an analyst or Defender changing incident id: fn edits a copy of it,
// which then replaces the stored incident (values round-trip through JSON, so fn may
// use any JSON-encodable Go values). lastUpdateDateTime moves forward, unless fn set it
// itself, in which case its value is kept. The id cannot change. Update returns
// ErrNotFound for an unknown id and an error when fn's values do not encode to JSON.
func (s *Server) Update(id string, fn func(inc map[string]any)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.incidents[id]
	if !ok {
		return fmt.Errorf("incident %q: %w", id, ErrNotFound)
	}
	next := deepCopy(cur)
	fn(next)
	norm, err := normalize(next)
	if err != nil {
		return fmt.Errorf("incident %q: %w", id, err)
	}
	norm["id"] = id
	if sameJSON(norm["lastUpdateDateTime"], cur["lastUpdateDateTime"]) {
		norm["lastUpdateDateTime"] = formatStamp(s.nextStamp(cur["lastUpdateDateTime"]))
	}
	s.incidents[id] = norm
	return nil
}

// SecurityActions returns deep copies of every security action, in creation order.
func (s *Server) SecurityActions() []map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]map[string]any, len(s.actions))
	for i, a := range s.actions {
		out[i] = deepCopy(a)
	}
	return out
}

// UpdateSecurityAction simulates Defender progressing action id (for example setting
// "status" to Completed): fn edits a copy that replaces the stored action. The id
// cannot change. It returns ErrNotFound for an unknown id.
func (s *Server) UpdateSecurityAction(id string, fn func(action map[string]any)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.actionIndex[id]
	if !ok {
		return fmt.Errorf("security action %q: %w", id, ErrNotFound)
	}
	next := deepCopy(s.actions[i])
	fn(next)
	norm, err := normalize(next)
	if err != nil {
		return fmt.Errorf("security action %q: %w", id, err)
	}
	norm["id"] = id
	s.actions[i] = norm
	return nil
}

// deepCopy copies a stored object, which holds only decoded JSON values.
func deepCopy(m map[string]any) map[string]any {
	out, err := normalize(m)
	if err != nil { // stored objects always encode; keep a shallow copy if not
		return maps.Clone(m)
	}
	return out
}

// normalize round-trips m through JSON, leaving only decoded JSON values (json.Number
// for numbers) that share nothing with m.
func normalize(m map[string]any) (map[string]any, error) {
	b, err := marshal(m)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, err
	}
	out, _ := v.(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}
