package graph

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// BudgetUse is how much of one rate budget of one tenant is spent: the
// calls of a class (incidents, securityActions, indicators) in a window (a
// minute, or an hour when the budget has an hourly limit).
//
// The budgets are token buckets, so Remaining is what the bucket would let
// through in the next Window (the calls it holds now plus its refill over
// the window; less when calls are waiting), and Used is Limit less
// Remaining: the part of the window's budget that recent calls took.
type BudgetUse struct {
	Tenant    string        `json:"tenant"`
	Calls     string        `json:"calls"`
	Window    time.Duration `json:"-"`
	WindowS   int           `json:"windowSeconds"`
	Limit     int           `json:"limit"`
	Used      int           `json:"used"`
	Remaining int           `json:"remaining"`
}

// budgetName names a class of calls in BudgetUse.Calls.
func budgetName(class limitClass) string {
	switch class {
	case incidentCalls:
		return "incidents"
	case actionCalls:
		return "securityActions"
	case indicatorCalls:
		return "indicators"
	}
	return "other"
}

// BudgetUse reports the use of every limited budget of the tenants the
// client has called (or was configured with), by tenant, class and window.
// Budgets without a limit are left out. It only reads.
func (c *Client) BudgetUse() []BudgetUse {
	now := time.Now()
	c.mu.Lock()
	tenants := make([]*tenantClient, 0, len(c.tenants))
	for _, t := range c.tenants {
		tenants = append(tenants, t)
	}
	c.mu.Unlock()
	limits := map[limitClass]RateLimit{
		incidentCalls:  c.cfg.IncidentRate,
		actionCalls:    c.cfg.SecurityActionRate,
		indicatorCalls: c.cfg.Defender.IndicatorRate,
	}
	var out []BudgetUse
	for _, t := range tenants {
		for class, l := range t.limits {
			rl := limits[class]
			for i, b := range l.buckets {
				window, limit := time.Minute, rl.PerMinute
				if i == 1 {
					window, limit = time.Hour, rl.PerHour
				}
				left := int(math.Floor(b.TokensAt(now) + float64(b.Limit())*window.Seconds()))
				left = min(max(left, 0), limit)
				out = append(out, BudgetUse{Tenant: t.id, Calls: budgetName(class), Window: window,
					WindowS: int(window.Seconds()), Limit: limit, Used: limit - left, Remaining: left})
			}
		}
	}
	slices.SortFunc(out, func(a, b BudgetUse) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Calls, b.Calls), cmp.Compare(a.Window, b.Window))
	})
	return out
}
