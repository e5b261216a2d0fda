package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// TestBudgetUse makes calls against the emulator and reads them back from
// the tenant's budgets: every call counts in the minute and the hour window,
// and unlimited budgets are left out.
func TestBudgetUse(t *testing.T) {
	t.Parallel()
	_, root := emulator(t, graphfake.Options{Open: true})
	// PerMinute 11 with a burst of 10 refills one call a minute, PerHour 100
	// one every 90 seconds: the counts below cannot drift during the test.
	c := client(t, root, func(cfg *graph.Config) {
		cfg.IncidentRate = graph.RateLimit{PerMinute: 11, PerHour: 100, Burst: 10}
		cfg.SecurityActionRate = graph.RateLimit{PerMinute: -1}
		cfg.Defender.IndicatorRate = graph.RateLimit{PerMinute: -1}
	})
	if got := c.BudgetUse(); len(got) != 0 {
		t.Fatalf("before any call: %+v, want nothing", got)
	}
	const calls = 4
	for range calls {
		if _, _, err := c.GetIncident(context.Background(), tenant, "4211"); err != nil {
			t.Fatal(err)
		}
	}
	got := c.BudgetUse()
	want := []graph.BudgetUse{
		{Tenant: tenant, Calls: "incidents", Window: time.Minute, WindowS: 60, Limit: 11, Used: calls, Remaining: 11 - calls},
		{Tenant: tenant, Calls: "incidents", Window: time.Hour, WindowS: 3600, Limit: 100, Used: calls, Remaining: 100 - calls},
	}
	if len(got) != len(want) {
		t.Fatalf("budget use %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("budget %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
