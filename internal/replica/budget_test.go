package replica_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// TestBudgetHoldsAcrossReplicas: three replicas share the partitions
// (replicas join while a tenant's backlog is handled, so its partition
// changes hands); Graph, which allows budget incident calls a minute per
// tenant, sees at most that many in any 60 s window and answers no 429,
// while a second tenant's events flow as the first one waits for its budget.
func TestBudgetHoldsAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for over a minute")
	}
	t.Parallel()
	const budget = 24 // incident calls a minute per tenant
	busy, quiet := "tenant-busy", "tenant-quiet"
	e := newEnv(t, envOptions{partitions: 8, fake: graphfake.Options{
		RateLimits: []graphfake.RateLimit{{Requests: budget, Window: time.Minute, PathPrefix: "/v1.0/security/incidents"}}}})
	rs := rulesFrom(t, `
rules:
  - {id: note, order: 1, when: "true", actions: [{comment: "event {{ event.id }}"}]}
`)
	client := func() *graph.Client {
		return e.graphClient(func(c *graph.Config) { c.IncidentRate = graph.RateLimit{PerMinute: budget, Burst: 4} })
	}
	opts := func(o *replica.Options) { o.ActionBudget = -1 }
	// The busy tenant needs two calls an event (the refresh, the comment):
	// 14 events are 28 calls, more than a minute's budget.
	const events = 14
	for i := range events {
		id := fmt.Sprint(9100 + i)
		e.seedIncidentFor(busy, id)
		e.publish(versionEventFor(t, busy, id, 1, "created"), busy, id, "")
	}
	start := time.Now()
	e.start("r1", rules.Static{RS: rs}, client(), opts)
	e.waitFor(20*time.Second, "the busy tenant under way", func() bool { return len(e.fake.RequestsFor("", "/v1.0/")) >= 3 })
	e.start("r2", rules.Static{RS: rs}, client(), opts)
	e.start("r3", rules.Static{RS: rs}, client(), opts)
	// The quiet tenant's events flow while the busy one waits for its budget.
	for i := range 3 {
		id := fmt.Sprint(9200 + i)
		e.seedIncidentFor(quiet, id)
		e.publish(versionEventFor(t, quiet, id, 1, "created"), quiet, id, "")
	}
	e.waitFor(45*time.Second, "the quiet tenant's comments", func() bool {
		for i := range 3 {
			if len(e.comments(fmt.Sprint(9200+i))) != 1 {
				return false
			}
		}
		return true
	})
	quietDone := time.Since(start)
	e.waitFor(3*time.Minute, "the busy tenant's comments", func() bool {
		for i := range events {
			if len(e.comments(fmt.Sprint(9100+i))) != 1 {
				return false
			}
		}
		return true
	})
	reqs := e.fake.RequestsFor("", "/v1.0/security/incidents")
	byTenant := map[string][]time.Time{}
	for _, r := range reqs {
		if r.Status == 429 {
			t.Errorf("Graph throttled the worker: %s %s for %s at %v", r.Method, r.Path, r.Tenant, r.Time)
		}
		byTenant[r.Tenant] = append(byTenant[r.Tenant], r.Time)
	}
	for tenantID, times := range byTenant {
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		most := 0
		for i := range times {
			n := sort.Search(len(times), func(j int) bool { return !times[j].Before(times[i].Add(time.Minute)) }) - i
			most = max(most, n)
		}
		if most > budget {
			t.Errorf("tenant %s: %d incident calls in one 60 s window, budget %d", tenantID, most, budget)
		}
		t.Logf("tenant %s: %d incident calls, at most %d in any 60 s window (budget %d)", tenantID, len(times), most, budget)
	}
	if quietDone > 50*time.Second {
		t.Errorf("the quiet tenant's events took %v: they waited for the busy tenant", quietDone)
	}
	t.Logf("the quiet tenant was done after %v", quietDone.Round(time.Second))
}
