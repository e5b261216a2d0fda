package graphfake

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// MaxIndicatorPageSize is the largest and the default $top of GET /api/indicators, as
// Defender's.
const MaxIndicatorPageSize = 10000

// indicatorSchema is the $filter schema of api/indicators: expirationTime,
// creationTimeDateTimeUtc and lastUpdateTime are dates; the string properties compare
// with eq, indicatorValue case-insensitively (Defender normalises hashes) and the others
// exactly; indicatorType, action and severity literals must be enum members.
type indicatorSchema struct{}

func (indicatorSchema) propKind(prop string) propKind {
	switch prop {
	case "expirationTime", "creationTimeDateTimeUtc", "lastUpdateTime":
		return kindDate
	case "id", "indicatorValue", "indicatorType", "action", "title", "description",
		"application", "severity", "recommendedActions", "educateUrl", "createdBy",
		"createdBySource", "lastUpdatedBy", "source", "sourceType":
		return kindText
	}
	return kindNone
}

func (indicatorSchema) checkText(prop, v string) error {
	if members := indicatorEnum(prop); members != nil && !slices.Contains(members, v) {
		return fmt.Errorf("'%s' is not a valid value for %s; allowed values: %s", v, prop, strings.Join(members, ", "))
	}
	return nil
}

func (indicatorSchema) foldCase(prop string) bool { return prop == "indicatorValue" }

// indicatorQuery is the parsed OData query of GET /api/indicators.
type indicatorQuery struct {
	conds []condition
	top   int
	skip  int
}

// parseIndicatorQuery reads $filter, $top (1..MaxIndicatorPageSize, default the
// maximum) and $skip (>= 0). Another $-option, or one given twice, is an error; options
// without a '$' are ignored.
func parseIndicatorQuery(q url.Values) (indicatorQuery, error) {
	iq := indicatorQuery{top: MaxIndicatorPageSize}
	for k, vs := range q {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		if k != "$filter" && k != "$top" && k != "$skip" {
			return iq, fmt.Errorf("query option '%s' is not supported on indicators; $filter, $top and $skip are", k)
		}
		if len(vs) > 1 {
			return iq, fmt.Errorf("query option '%s' was specified more than once", k)
		}
	}
	if f, ok := q["$filter"]; ok {
		conds, err := parseFilterWith(f[0], indicatorSchema{})
		if err != nil {
			return iq, fmt.Errorf("invalid $filter: %w", err)
		}
		iq.conds = conds
	}
	if q.Has("$top") {
		n, err := strconv.Atoi(q.Get("$top"))
		if err != nil || n < 1 || n > MaxIndicatorPageSize {
			return iq, fmt.Errorf("invalid value %q for $top: an integer from 1 to %d is expected", q.Get("$top"), MaxIndicatorPageSize)
		}
		iq.top = n
	}
	if q.Has("$skip") {
		n, err := strconv.Atoi(q.Get("$skip"))
		if err != nil || n < 0 {
			return iq, fmt.Errorf("invalid value %q for $skip: a non-negative integer is expected", q.Get("$skip"))
		}
		iq.skip = n
	}
	return iq, nil
}
