package graphfake

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// listQuery is the parsed OData query of an incident request.
type listQuery struct {
	conds   []condition
	top     int
	topSet  bool
	skip    int
	count   bool
	expand  bool
	orderBy []orderKey
	selects []string
}

// orderKey is one $orderby clause.
type orderKey struct {
	prop string
	desc bool
}

// parseIncidentQuery validates the OData options of an incident request. allowed lists
// the $-options the route accepts; any other $-option is an error, and options without
// a '$' are ignored, as Graph v1.0 does.
func parseIncidentQuery(q url.Values, allowed ...string) (listQuery, error) {
	var lq listQuery
	for k, vs := range q {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return lq, fmt.Errorf("query option '%s' is not supported on this resource", k)
		}
		if len(vs) > 1 {
			return lq, fmt.Errorf("query option '%s' was specified more than once; it must be specified at most once", k)
		}
	}
	var err error
	if f, ok := q["$filter"]; ok {
		if lq.conds, err = parseFilter(f[0]); err != nil {
			return lq, fmt.Errorf("invalid filter clause: %v", err)
		}
	}
	if v := q.Get("$top"); v != "" || q.Has("$top") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, fmt.Errorf("invalid value %q for $top: a non-negative integer is expected", v)
		}
		lq.top, lq.topSet = min(n, MaxPageSize), true
	}
	if v := q.Get("$skip"); v != "" || q.Has("$skip") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return lq, fmt.Errorf("invalid value %q for $skip: a non-negative integer is expected", v)
		}
		lq.skip = n
	}
	if q.Has("$count") {
		switch q.Get("$count") {
		case "true":
			lq.count = true
		case "false":
		default:
			return lq, fmt.Errorf("invalid value %q for $count: true or false is expected", q.Get("$count"))
		}
	}
	if q.Has("$expand") {
		for _, e := range strings.Split(q.Get("$expand"), ",") {
			if strings.TrimSpace(e) != "alerts" {
				return lq, fmt.Errorf("could not find a navigation property named '%s' on microsoft.graph.security.incident", strings.TrimSpace(e))
			}
		}
		lq.expand = true
	}
	if q.Has("$orderby") {
		if lq.orderBy, err = parseOrderBy(q.Get("$orderby")); err != nil {
			return lq, err
		}
	}
	if q.Has("$select") {
		if lq.selects, err = parseSelect(q.Get("$select")); err != nil {
			return lq, err
		}
	}
	return lq, nil
}

// parseOrderBy accepts createdDateTime and lastUpdateDateTime, each asc or desc.
func parseOrderBy(v string) ([]orderKey, error) {
	var keys []orderKey
	for _, clause := range strings.Split(v, ",") {
		f := strings.Fields(clause)
		if len(f) == 0 || len(f) > 2 || (f[0] != "createdDateTime" && f[0] != "lastUpdateDateTime") {
			return nil, fmt.Errorf("invalid $orderby clause %q: createdDateTime or lastUpdateDateTime, asc or desc, is supported", clause)
		}
		k := orderKey{prop: f[0]}
		if len(f) == 2 {
			switch f[1] {
			case "asc":
			case "desc":
				k.desc = true
			default:
				return nil, fmt.Errorf("invalid $orderby direction %q", f[1])
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// incidentProperties are the properties of microsoft.graph.security.incident.
func incidentProperties() []string {
	return []string{"id", "tenantId", "status", "incidentWebUrl", "redirectIncidentId",
		"displayName", "createdDateTime", "lastUpdateDateTime", "assignedTo", "classification",
		"determination", "severity", "customTags", "systemTags", "description", "summary",
		"resolvingComment", "lastModifiedBy", "comments", "alerts"}
}

func parseSelect(v string) ([]string, error) {
	known := incidentProperties()
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		found := false
		for _, k := range known {
			found = found || k == p
		}
		if !found {
			return nil, fmt.Errorf("could not find a property named '%s' on type 'microsoft.graph.security.incident'", p)
		}
		out = append(out, p)
	}
	return out, nil
}
