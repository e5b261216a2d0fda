package replica_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// TestBlockPathRequestsPerIncident counts the Graph and Defender requests of
// the block path with the starter rules (docs/BENCHMARKS.md quotes it): the
// first ransomware incident of a hash costs a GET (the refresh before
// writing), one PATCH, one indicator POST and one comment; every further
// incident with the same hash costs the same without the indicator; our own
// update events coming back cost nothing.
func TestBlockPathRequestsPerIncident(t *testing.T) {
	t.Parallel()
	const n = 10
	var base map[string]any
	if err := json.Unmarshal(fixtures.Read("ransomware-created.json"), &base); err != nil {
		t.Fatal(err)
	}
	data := base["data"].(map[string]any)
	var seeds [][]byte
	for i := range n {
		data["id"] = fmt.Sprint(6000 + i)
		b, _ := json.Marshal(data)
		seeds = append(seeds, b)
	}
	e := newEnv(t, envOptions{seed: []string{}})
	for _, s := range seeds {
		if err := e.fake.Seed(s); err != nil {
			t.Fatal(err)
		}
	}
	e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	for i := range n {
		id := fmt.Sprint(6000 + i)
		inc, _ := e.fake.Incident(id)
		e.publish(envelope(t, "created-"+id, "created", inc), tenant, id, "")
		// One at a time, so that "the first incident of a hash" is well defined.
		e.waitFor(10*time.Second, "incident "+id, func() bool { return e.settled() && len(e.comments(id)) == 1 })
	}
	count := func(method, prefix string) int { return len(e.fake.RequestsFor(method, prefix)) }
	got := map[string]int{
		"GET incident":   count("GET", "/v1.0/security/incidents/"),
		"PATCH incident": count("PATCH", "/v1.0/security/incidents/"),
		"POST comment":   count("POST", "/v1.0/security/incidents/"),
		"POST indicator": count("POST", "/api/indicators"),
		"GET indicator":  count("GET", "/api/indicators"),
	}
	want := map[string]int{"GET incident": n, "PATCH incident": n, "POST comment": n, "POST indicator": 1, "GET indicator": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d requests for %d incidents, want %d", k, got[k], n, v)
		}
	}
	// The updates our writes caused come back: nothing more is asked.
	before := len(e.fake.Requests())
	for i := range n {
		id := fmt.Sprint(6000 + i)
		inc, _ := e.fake.Incident(id)
		e.publish(envelope(t, "echo-"+id, "updated", inc), tenant, id, "")
	}
	e.waitFor(10*time.Second, "echoes settled", func() bool { return e.settled() })
	if extra := len(e.fake.Requests()) - before; extra != 0 {
		t.Errorf("our own updates cost %d requests, want 0", extra)
	}
	t.Logf("block path, %d incidents with one hash: %v; echoes: 0", n, got)
}
