package graphfake

import (
	"slices"
	"strconv"
	"time"
)

// indicatorRecord is one stored Defender indicator.
type indicatorRecord struct {
	obj     map[string]any // the wire object, without @odata.context
	key     string         // indicatorKey of its type and value
	expires time.Time      // zero: never expires
}

// active reports whether the indicator has not expired at now.
func (r *indicatorRecord) active(now time.Time) bool { return activeAt(r.expires, now) }

// activeAt reports whether an indicator expiring at expires (zero: never) is active at
// now.
func activeAt(expires, now time.Time) bool { return expires.IsZero() || expires.After(now) }

// tenantIndicators are one tenant's indicators, expired ones included.
type tenantIndicators struct {
	list  []*indicatorRecord // creation order
	byID  map[string]*indicatorRecord
	byKey map[string]*indicatorRecord
}

// indicatorStore holds every tenant's indicators. Guarded by Server.mu.
type indicatorStore struct {
	lastID  int64
	tenants map[string]*tenantIndicators
}

// tenant returns tenant's indicators, nil when it has none and create is false.
func (st *indicatorStore) tenant(tenant string, create bool) *tenantIndicators {
	ti := st.tenants[tenant]
	if ti == nil && create {
		ti = &tenantIndicators{byID: map[string]*indicatorRecord{}, byKey: map[string]*indicatorRecord{}}
		st.tenants[tenant] = ti
	}
	return ti
}

// newID returns the next indicator id: a decimal counter over the whole server, as
// Defender's ids are numeric strings.
func (st *indicatorStore) newID() string {
	st.lastID++
	return strconv.FormatInt(st.lastID, 10)
}

// add stores a new record.
func (ti *tenantIndicators) add(r *indicatorRecord) {
	ti.list = append(ti.list, r)
	ti.byID[r.obj["id"].(string)] = r
	ti.byKey[r.key] = r
}

// get returns the record id, or nil; ti may be nil.
func (ti *tenantIndicators) get(id string) *indicatorRecord {
	if ti == nil {
		return nil
	}
	return ti.byID[id]
}

// remove deletes record id and reports whether it existed; ti may be nil.
func (ti *tenantIndicators) remove(id string) bool {
	r := ti.get(id)
	if r == nil {
		return false
	}
	delete(ti.byID, id)
	delete(ti.byKey, r.key)
	ti.list = slices.DeleteFunc(ti.list, func(e *indicatorRecord) bool { return e == r })
	return true
}

// activeCount counts the indicators not expired at now; ti may be nil.
func (ti *tenantIndicators) activeCount(now time.Time) int {
	if ti == nil {
		return 0
	}
	n := 0
	for _, r := range ti.list {
		if r.active(now) {
			n++
		}
	}
	return n
}

// Indicators returns deep copies of tenant's indicators ("" is the bucket of callers
// whose token names no tenant), in creation order, expired ones included: compare
// expirationTime with the emulator clock to tell them apart. Numbers are json.Number.
// It returns nil when the tenant has none.
func (s *Server) Indicators(tenant string) []map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ti := s.indicators.tenant(tenant, false)
	if ti == nil || len(ti.list) == 0 {
		return nil
	}
	out := make([]map[string]any, len(ti.list))
	for i, r := range ti.list {
		out[i] = deepCopy(r.obj)
	}
	return out
}

// Indicator returns a deep copy of tenant's indicator id, expired or not.
func (s *Server) Indicator(tenant, id string) (map[string]any, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.indicators.tenant(tenant, false).get(id)
	if r == nil {
		return nil, false
	}
	return deepCopy(r.obj), true
}
