package graphfake

import (
	"fmt"
	"net/http"
)

// MaxActiveIndicators is how many active indicators Defender lets a tenant hold, the
// default of Options.MaxIndicators.
const MaxActiveIndicators = 15000

// codeBadRequest is the error code of Defender's 400s on the indicators API.
const codeBadRequest = "BadRequest"

// Indicator provenance written on submission, as Defender writes it for API callers.
const (
	indicatorCreatedBySource = "PublicApi"
	indicatorSourceType      = "AadApp"
)

// submitIndicator answers POST /api/indicators ("submit or update indicator") with 200
// and the stored indicator. The body is validated by parseIndicatorInput (400
// BadRequest naming the property otherwise). An indicator of the same type and value
// (case-insensitive for hashes) in the caller's tenant, expired or not, is updated in
// place: same id and creation fields, lastUpdateTime and lastUpdatedBy set, every body
// property replaced. Otherwise a new one is stored with the next numeric id. Making
// an indicator active beyond the tenant's MaxIndicators active ones is 400.
func (s *Server) submitIndicator(x *exchange) {
	body, isArray, err := decodeObject(x.body)
	if err != nil {
		if isArray {
			err = fmt.Errorf("a single indicator object is expected, not an array (use /api/indicators/import for batches)")
		}
		x.fail(http.StatusBadRequest, codeBadRequest, "Invalid request body: "+err.Error())
		return
	}
	in, err := parseIndicatorInput(body)
	if err != nil {
		x.fail(http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	now := s.now()
	ti := s.indicators.tenant(x.tenant(), true)
	rec := ti.byKey[in.key]
	if (rec == nil || !rec.active(now)) && activeAt(in.expires, now) && ti.activeCount(now) >= s.maxIndicators {
		s.mu.Unlock()
		x.fail(http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
			"The tenant already holds %d active indicators, the most allowed; delete some or let them expire.", s.maxIndicators))
		return
	}
	who := s.indicatorCaller(x)
	if rec == nil {
		at := formatStamp(now)
		rec = &indicatorRecord{obj: map[string]any{
			"id":                      s.indicators.newID(),
			"creationTimeDateTimeUtc": at,
			"createdBy":               who,
			"createdBySource":         indicatorCreatedBySource,
			"source":                  s.actor(x),
			"sourceType":              indicatorSourceType,
			"lastUpdateTime":          at,
			"lastUpdatedBy":           who,
		}, key: in.key}
		ti.add(rec)
	} else {
		rec.obj["lastUpdateTime"] = formatStamp(s.nextStamp(rec.obj["lastUpdateTime"]))
		rec.obj["lastUpdatedBy"] = who
	}
	for k, v := range in.fields {
		rec.obj[k] = v
	}
	rec.expires = in.expires
	v := indicatorView(x, rec.obj)
	s.mu.Unlock()
	x.writeJSON(http.StatusOK, v)
}

// listIndicators answers GET /api/indicators with the caller tenant's active
// indicators (not expired by the emulator clock) that match $filter, in creation
// order, $skip then at most $top of them; 400 BadRequest for a query it cannot read.
func (s *Server) listIndicators(x *exchange) {
	q, err := parseIndicatorQuery(x.query)
	if err != nil {
		x.fail(http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.mu.RLock()
	now := s.now()
	value := make([]map[string]any, 0)
	skipped := 0
	if ti := s.indicators.tenant(x.tenant(), false); ti != nil {
		for _, r := range ti.list {
			if len(value) == q.top {
				break
			}
			if !r.active(now) || !matchAll(q.conds, r.obj) {
				continue
			}
			if skipped < q.skip {
				skipped++
				continue
			}
			value = append(value, r.obj)
		}
	}
	b, err := marshal(map[string]any{
		"@odata.context": x.root() + "/api/$metadata#Indicators",
		"value":          value,
	})
	s.mu.RUnlock()
	if err != nil {
		x.fail(http.StatusInternalServerError, codeGeneral, "Encoding the response failed.")
		return
	}
	x.writeRaw(http.StatusOK, b, contentTypeOData)
}

// getIndicator answers GET /api/indicators/{id} with the indicator (expired or not);
// 404 itemNotFound when the id is unknown or another tenant's.
func (s *Server) getIndicator(x *exchange, id string) {
	s.mu.RLock()
	var v map[string]any
	if r := s.indicators.tenant(x.tenant(), false).get(id); r != nil {
		v = indicatorView(x, r.obj)
	}
	b, err := marshal(v)
	s.mu.RUnlock()
	switch {
	case v == nil:
		x.notFound("Indicator '" + id + "' was not found.")
	case err != nil:
		x.fail(http.StatusInternalServerError, codeGeneral, "Encoding the response failed.")
	default:
		x.writeRaw(http.StatusOK, b, contentTypeOData)
	}
}

// deleteIndicator answers DELETE /api/indicators/{id} with 204 and no body; 404
// itemNotFound when the id is unknown or another tenant's.
func (s *Server) deleteIndicator(x *exchange, id string) {
	s.mu.Lock()
	ok := s.indicators.tenant(x.tenant(), false).remove(id)
	s.mu.Unlock()
	if !ok {
		x.notFound("Indicator '" + id + "' was not found.")
		return
	}
	x.writeEmpty(http.StatusNoContent)
}

// indicatorCaller is who Defender records in createdBy and lastUpdatedBy: the token's
// app id, else its user or app name, else the emulator's display name.
func (s *Server) indicatorCaller(x *exchange) string {
	if x.principal.appID != "" {
		return x.principal.appID
	}
	return s.actor(x)
}

// indicatorView is the single-entity response shape of an indicator. The caller holds
// s.mu until it is encoded.
func indicatorView(x *exchange, obj map[string]any) map[string]any {
	v := make(map[string]any, len(obj)+1)
	for k, val := range obj {
		v[k] = val
	}
	v["@odata.context"] = x.root() + "/api/$metadata#Indicators/$entity"
	return v
}
