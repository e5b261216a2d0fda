package rules_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// trickyRules exercise every shape the prefilter understands, and shapes it
// must leave alone (negation, previous, let, optional chaining).
const trickyRules = `
lists:
  groups: [Finance, HR]
  hosts: [ws-fin-014.contoso.com, rt-win-01.contoso.com]
  techniques: [T1486, T1003.001]
rules:
  - {id: or-of-eq, order: 1, when: 'incident.severity == "low" || incident.status == "resolved"', actions: [{tag: a}]}
  - {id: in-array, order: 2, when: 'incident.severity in ["high", "informational"] && incident.assignedTo in ["", "owner7@contoso.com"]', actions: [{tag: b}]}
  - {id: not, order: 3, when: 'not (incident.severity == "high") && !("tag-3" in incident.customTags)', actions: [{tag: c}]}
  - {id: prefix, order: 4, when: 'incident.displayName startsWith "Incident case-1" || incident.displayName endsWith "endpoint"', actions: [{tag: d}]}
  - {id: nested-and, order: 5, when: 'any(devices(incident), {.rbacGroupName in lists.groups && .deviceDnsName contains "fin"})', actions: [{tag: e}]}
  - {id: nested-or, order: 6, when: 'any(incident.alerts, {.title contains "beacon" || "T1486" in .mitreTechniques})', actions: [{tag: f}]}
  - {id: flattened, order: 7, when: 'any(incident.alerts, {any(.mitreTechniques, {# in lists.techniques})})', actions: [{tag: g}]}
  - {id: helper-eq, order: 8, when: '"198.51.100.23" in ips(incident) || any(urls(incident), {# startsWith "http://login"})', actions: [{tag: h}]}
  - {id: previous, order: 9, when: 'previous?.severity == "low" && incident.severity == "high"', actions: [{tag: i}]}
  - {id: let, order: 10, when: 'let p = incident; p.status == "active" && incident.severity == "low"', actions: [{tag: j}]}
  - {id: optional, order: 11, when: 'incident?.severity == "medium"', actions: [{tag: k}]}
  - {id: mixed, order: 12, when: '(incident.severity == "high" && "grp-7" in incident.customTags) || any(users(incident), {.userPrincipalName == "vip3@contoso.com"})', actions: [{tag: l}]}
  - {id: empty-eq, order: 13, when: 'incident.assignedTo == "" && any(files(incident), {.fileName endsWith ".exe"})', actions: [{tag: m}]}
  - {id: hosts, order: 14, when: 'any(devices(incident), {.deviceDnsName in lists.hosts}) and incident.status != "resolved"', actions: [{tag: n}]}
`

func TestIndexNeverChangesPlans(t *testing.T) {
	t.Parallel()
	bench, err := rules.Load("testdata/bench", nil)
	if err != nil {
		t.Fatal(err)
	}
	starter, err := rules.Load("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	tricky := mustLoad(t, map[string]string{"t.yaml": trickyRules})
	sets := map[string]*rules.RuleSet{"bench": bench, "starter": starter, "tricky": tricky}

	// The prefilter must actually prune the benchmark rules.
	indexed := 0
	for _, n := range bench.IndexedClauses() {
		if n > 0 {
			indexed++
		}
	}
	if indexed < 990 {
		t.Errorf("only %d of 1000 benchmark rules have prefilter clauses", indexed)
	}

	var hashes []string
	for _, l := range bench.Lists() {
		for h := range l {
			hashes = append(hashes, h)
			if len(hashes)%97 == 0 {
				break
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	bases := []string{"ransomware-created.json", "ransomware-updated.json", "redteam-created.json", "phishing-created.json"}
	matchedSome := map[string]int{}
	for i := range 3000 {
		prev := event(t, bases[rng.IntN(len(bases))]).Incident
		ev := event(t, bases[rng.IntN(len(bases))])
		mutate(rng, ev.Incident, hashes)
		if rng.IntN(2) == 0 {
			prev = nil
		}
		for name, rs := range sets {
			in := rules.Input{Event: ev, Previous: prev, Now: t0}
			got, want := planJSON(t, rs.Evaluate(in)), planJSON(t, rs.WithoutIndex().Evaluate(in))
			if !bytes.Equal(got, want) {
				t.Fatalf("iteration %d, %s rules: the prefilter changed the plan\nindexed: %s\n    all: %s", i, name, got, want)
			}
			if bytes.Contains(want, []byte(`"rule"`)) {
				matchedSome[name]++
			}
		}
	}
	for name := range sets {
		if matchedSome[name] < 100 {
			t.Errorf("%s: only %d of 3000 random incidents matched anything; the test would not see a wrong prune", name, matchedSome[name])
		}
	}
}

func planJSON(t *testing.T, p *rules.Plan) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// mutate draws the incident's properties from values the rules test for, so
// that random incidents match some rules and miss others by one value.
func mutate(rng *rand.Rand, inc *incident.Incident, hashes []string) {
	n := func() int { return rng.IntN(40) * pick(rng, 1, 5, 25) }
	inc.Severity = pick(rng, "high", "medium", "low", "informational")
	inc.Status = pick(rng, "active", "inProgress", "resolved")
	inc.AssignedTo = pick(rng, "", "", fmt.Sprintf("owner%d@contoso.com", n()), "owner7@contoso.com")
	inc.DisplayName = pick(rng, inc.DisplayName, fmt.Sprintf("Incident case-%d", n()), "Ransomware on one endpoint")
	inc.CustomTags = nil
	for range rng.IntN(4) {
		inc.CustomTags = append(inc.CustomTags, pick(rng, fmt.Sprintf("tag-%d", n()), fmt.Sprintf("grp-%d", n()), "tag-3", "grp-7", "analyst"))
	}
	for _, a := range inc.Alerts {
		a.Title = pick(rng, a.Title, fmt.Sprintf("Lockbit-%d seen", n()), fmt.Sprintf("beacon-%d beacon", n()), "quiet")
		a.MitreTechniques = []string{pick(rng, "T1486", "T1055", "T1003.001", "T9999")}
		for _, e := range a.Evidence {
			switch e.Type {
			case "deviceEvidence":
				e.RbacGroupName = pick(rng, "Finance", "HR", "Servers", "RedTeam", "Labs", "Other")
				e.DeviceDNSName = pick(rng, e.DeviceDNSName, "ws-fin-014.contoso.com", "rt-win-01.contoso.com", "srv-01.contoso.com")
			case "userEvidence":
				e.UserAccount.UserPrincipalName = pick(rng, e.UserAccount.UserPrincipalName, fmt.Sprintf("vip%d@contoso.com", rng.IntN(250)), "grace@contoso.com")
			case "fileEvidence":
				e.FileDetails.Sha256 = pick(rng, e.FileDetails.Sha256, hashes[rng.IntN(len(hashes))], "")
				e.FileDetails.FileName = pick(rng, "a.exe", "b.dll")
			case "ipEvidence":
				e.IPAddress = pick(rng, e.IPAddress, "10.0.0.1")
			}
		}
	}
}
