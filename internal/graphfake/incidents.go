package graphfake

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// listIncidents answers GET /security/incidents: the visible incidents that match
// $filter, in a stable order (createdDateTime then id, or $orderby with id as the tie
// break), one page of $top (default the server's page size, at most 50) from $skip,
// with an absolute @odata.nextLink while more remain and @odata.count when $count=true.
func (s *Server) listIncidents(x *exchange) {
	q, err := parseIncidentQuery(x.query, "$filter", "$top", "$skip", "$count", "$expand", "$orderby", "$select")
	if err != nil {
		x.invalid(err.Error())
		return
	}
	size := s.pageSize
	if q.topSet {
		size = q.top
	}
	unknown := x.includeUnknownEnumMembers()

	s.mu.RLock()
	matched := s.matching(x.tenant(), q)
	total := len(matched)
	start := min(q.skip, total)
	end := min(start+size, total)
	page := make([]map[string]any, 0, end-start)
	for _, inc := range matched[start:end] {
		page = append(page, view(inc, q.expand, q.selects, unknown))
	}
	body := map[string]any{
		"@odata.context": x.root() + "/" + version(x) + "/$metadata#security/incidents",
		"value":          page,
	}
	if q.count {
		body["@odata.count"] = total
	}
	if end < total && size > 0 {
		body["@odata.nextLink"] = nextLink(x, end, size, q.topSet)
	}
	b, err := marshal(body)
	s.mu.RUnlock()
	if err != nil {
		x.fail(500, codeGeneral, "Encoding the response failed.")
		return
	}
	x.writeRaw(200, b, contentTypeOData)
}

// countIncidents answers GET /security/incidents/$count with a text/plain number.
func (s *Server) countIncidents(x *exchange) {
	q, err := parseIncidentQuery(x.query, "$filter")
	if err != nil {
		x.invalid(err.Error())
		return
	}
	s.mu.RLock()
	n := len(s.matching(x.tenant(), q))
	s.mu.RUnlock()
	x.writeRaw(200, []byte(strconv.Itoa(n)), "text/plain;charset=utf-8")
}

// getIncident answers GET /security/incidents/{id}; alerts only with $expand=alerts.
func (s *Server) getIncident(x *exchange, id string) {
	q, err := parseIncidentQuery(x.query, "$expand", "$select")
	if err != nil {
		x.invalid(err.Error())
		return
	}
	s.mu.RLock()
	inc := s.visibleIncident(x.tenant(), id)
	var b []byte
	if inc != nil {
		v := view(inc, q.expand, q.selects, x.includeUnknownEnumMembers())
		v["@odata.context"] = x.root() + "/" + version(x) + "/$metadata#security/incidents/$entity"
		b, err = marshal(v)
	}
	s.mu.RUnlock()
	switch {
	case inc == nil:
		x.notFound("Incident '" + id + "' was not found.")
	case err != nil:
		x.fail(500, codeGeneral, "Encoding the response failed.")
	default:
		x.writeRaw(200, b, contentTypeOData)
	}
}

// visibleIncident returns the stored incident id if tenant may see it. The caller
// holds s.mu.
func (s *Server) visibleIncident(tenant, id string) map[string]any {
	inc, ok := s.incidents[id]
	if !ok || !visibleTo(inc, tenant) {
		return nil
	}
	return inc
}

// visibleTo reports whether a caller of tenant ("" for none) sees inc.
func visibleTo(inc map[string]any, tenant string) bool {
	if tenant == "" {
		return true
	}
	t, _ := inc["tenantId"].(string)
	return t == tenant
}

// matching returns the incidents visible to tenant that satisfy q, sorted. The caller
// holds s.mu.
func (s *Server) matching(tenant string, q listQuery) []map[string]any {
	type keyed struct {
		inc   map[string]any
		id    string
		times []time.Time
	}
	order := q.orderBy
	if len(order) == 0 {
		order = []orderKey{{prop: "createdDateTime"}}
	}
	rows := make([]keyed, 0, len(s.incidents))
	for id, inc := range s.incidents {
		if !visibleTo(inc, tenant) || !matchAll(q.conds, inc) {
			continue
		}
		k := keyed{inc: inc, id: id, times: make([]time.Time, len(order))}
		for i, o := range order {
			k.times[i], _ = parseStamp(inc[o.prop])
		}
		rows = append(rows, k)
	}
	slices.SortFunc(rows, func(a, b keyed) int {
		for i, o := range order {
			c := a.times[i].Compare(b.times[i])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return compareIDs(a.id, b.id)
	})
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		out[i] = r.inc
	}
	return out
}

// compareIDs orders numeric ids numerically (Defender's incident ids are numbers) and
// any other ids as strings.
func compareIDs(a, b string) int {
	na, ea := strconv.ParseUint(a, 10, 64)
	nb, eb := strconv.ParseUint(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return cmp.Compare(na, nb)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

// view is the response shape of a stored incident: a shallow copy without alerts
// unless expanded, restricted to $select (id always kept), with evolvable enum members
// hidden unless the client opted in. It is encoded while s.mu is held.
func view(inc map[string]any, expand bool, selects []string, includeUnknown bool) map[string]any {
	v := make(map[string]any, len(inc))
	if selects == nil {
		for k, val := range inc {
			v[k] = val
		}
	} else {
		for _, k := range append([]string{"@odata.type", "id"}, selects...) {
			if val, ok := inc[k]; ok {
				v[k] = val
			}
		}
		if expand {
			v["alerts"] = inc["alerts"]
		}
	}
	if !expand {
		delete(v, "alerts")
	} else if v["alerts"] == nil {
		v["alerts"] = []any{}
	}
	if st, _ := v["status"].(string); st == statusAwaitingAction && !includeUnknown {
		v["status"] = "unknownFutureValue"
	}
	return v
}

// nextLink is the absolute URL of the page after end, carrying the request's other
// query options.
func nextLink(x *exchange, end, size int, topSet bool) string {
	v := url.Values{}
	for _, k := range []string{"$filter", "$expand", "$count", "$orderby", "$select"} {
		if vals, ok := x.query[k]; ok {
			v[k] = vals
		}
	}
	if topSet {
		v.Set("$top", strconv.Itoa(size))
	}
	v.Set("$skip", strconv.Itoa(end))
	return x.root() + x.r.URL.Path + "?" + v.Encode()
}

// version is the API version segment of the request path (v1.0 or beta).
func version(x *exchange) string {
	p := x.r.URL.Path
	if len(p) > 5 && p[1:5] == "beta" {
		return "beta"
	}
	return "v1.0"
}
