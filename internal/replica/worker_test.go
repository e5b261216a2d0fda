package replica_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/rules"
)

func TestFixturesProduceTheExpectedWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	for _, f := range []string{"ransomware-created.json", "redteam-created.json", "phishing-created.json"} {
		e.publishFixture(f)
	}
	e.waitFor(20*time.Second, "all events settled", func() bool { return e.settled() && len(e.fake.Indicators(tenant)) == 1 })

	want := map[string]map[string]any{
		"4211": {"classification": "truePositive", "determination": "malware", "status": "inProgress", "assignedTo": "tier2@contoso.com"},
		"4212": {"classification": "informationalExpectedActivity", "determination": "securityTesting", "status": "resolved"},
		"4213": {"status": "inProgress", "assignedTo": "phishing-desk@contoso.com"},
	}
	wantTags := map[string][]string{"4211": {"ransomware", "hash-blocked"}, "4212": {"red-team"}, "4213": {"vip", "phishing"}}
	for id, props := range want {
		inc, _ := e.fake.Incident(id)
		for k, v := range props {
			if inc[k] != v {
				t.Errorf("incident %s: %s = %v, want %v", id, k, inc[k], v)
			}
		}
		var tags []string
		for _, x := range inc["customTags"].([]any) {
			tags = append(tags, x.(string))
		}
		if !slices.Equal(tags, wantTags[id]) {
			t.Errorf("incident %s: tags %v, want %v", id, tags, wantTags[id])
		}
	}
	if c := e.comments("4212"); len(c) != 1 || !strings.HasPrefix(c[0], "Closed by close-red-team-tests: 2 red-team device(s)") {
		t.Errorf("4212 comments %q", c)
	}
	if c := e.comments("4213"); len(c) != 2 {
		t.Errorf("4213 comments %q", c)
	}
	a := e.fake.Indicators(tenant)[0]
	if a["indicatorValue"] != "9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7" || a["action"] != "BlockAndRemediate" ||
		a["title"] != "graphsoar: block-known-ransomware" {
		t.Errorf("indicator %v", a)
	}
	// One PATCH per event: the actions of an event are merged.
	for _, id := range []string{"4211", "4212", "4213"} {
		if n := len(e.fake.RequestsFor("PATCH", "/v1.0/security/incidents/"+id)); n != 1 {
			t.Errorf("incident %s: %d PATCH requests, want 1", id, n)
		}
	}
	// Every action outcome is audited, with Graph's request id for writes.
	e.waitFor(5*time.Second, "audit events", func() bool { return len(e.audits()) >= 15 })
	applied := 0
	for _, ev := range e.audits() {
		if ev.Result == "applied" {
			applied++
			if ev.GraphRequestID == "" || ev.Worker != "w1" || ev.Tenant != tenant {
				t.Errorf("audit event without request id or names: %+v", ev)
			}
		}
	}
	if applied < 12 {
		t.Errorf("%d applied actions audited", applied)
	}
}
