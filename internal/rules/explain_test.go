package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// loadTemp writes rule files into a fresh directory and loads it.
func loadTemp(t *testing.T, files map[string]string) *rules.RuleSet {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// threeDevices is an incident on three devices, one of them not a red-team one.
const threeDevices = `{"id": "77", "tenantId": "t1", "status": "active", "severity": "medium",
 "lastUpdateDateTime": "2026-11-20T10:00:00Z", "customTags": ["lab"],
 "alerts": [{"id": "a1", "title": "Mimikatz", "severity": "medium", "evidence": [
  {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "rt-win-01.contoso.com", "rbacGroupName": "RedTeam"},
  {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "ws-fin-014.contoso.com", "rbacGroupName": "Finance"},
  {"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": "rt-win-02.contoso.com", "rbacGroupName": "RedTeam"}]}]}`

const explainRules = `
lists:
  redteam_devices: [rt-win-01.contoso.com, rt-win-02.contoso.com]
rules:
  - id: close-red-team
    order: 10
    when: |
      incident.status == "active"
      && all(devices(incident), {.deviceDnsName in lists.redteam_devices})
    actions: [{set_status: resolved}]
  - id: any-finance
    order: 20
    when: any(devices(incident), {.rbacGroupName == "Finance"}) && incident.severity == "high"
    actions: [{tag: finance}]
  - id: lab-or-high
    order: 30
    when: '"lab" in incident.customTags || incident.severity == "high" || none(devices(incident), {.rbacGroupName == "Labs"})'
    actions: [{tag: seen}]
  - id: off
    order: 40
    enabled: false
    when: "true"
    actions: [{tag: off}]
  - id: old
    order: 50
    expires: 2020-01-01
    when: "true"
    actions: [{tag: old}]
  - id: creations-only
    order: 60
    on: [created]
    when: "true"
    actions: [{tag: upd}]
  - id: stopper
    order: 70
    when: incident.status == "active"
    stop: true
  - id: after-stop
    order: 80
    when: "true"
    actions: [{tag: late}]
`

func TestExplainNamesTermsItemsAndSkips(t *testing.T) {
	t.Parallel()
	rs := loadTemp(t, map[string]string{"rules.yaml": explainRules})
	ev, err := incident.Decode([]byte(threeDevices))
	if err != nil {
		t.Fatal(err)
	}
	plan, xs := rs.Explain(rules.Input{Event: ev, Now: t0}, nil)
	byRule := map[string]rules.Explanation{}
	for _, x := range xs {
		byRule[x.Rule] = x
	}
	type term struct {
		value   any
		detail  string // a substring of the detail
		reached bool
	}
	tests := []struct {
		rule    string
		matched bool
		skipped string
		terms   []term
	}{
		{rule: "close-red-team", terms: []term{
			{true, `incident.status is "active"`, true},
			{false, "1 of 3 devices not in lists.redteam_devices: ws-fin-014.contoso.com", true},
		}},
		{rule: "any-finance", terms: []term{
			{true, `1 of 3 devices matching {.rbacGroupName == "Finance"}: ws-fin-014.contoso.com (rbacGroupName: "Finance")`, true},
			{false, `incident.severity is "medium"`, true},
		}},
		{rule: "lab-or-high", matched: true, terms: []term{
			{true, `incident.customTags is ["lab"]`, true},
			{false, `incident.severity is "medium"`, false},
			{true, "none of 3 devices matching {.rbacGroupName == \"Labs\"}", false},
		}},
		{rule: "off", skipped: "disabled"},
		{rule: "old", skipped: "expired at 2020-01-01T00:00:00Z"},
		{rule: "creations-only", skipped: "not on updated events"},
		{rule: "stopper", matched: true, terms: []term{{true, "", true}}},
		{rule: "after-stop", skipped: "after stopper matched with stop: true"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			x, ok := byRule[tt.rule]
			if !ok {
				t.Fatalf("no explanation for %s", tt.rule)
			}
			if x.Matched != tt.matched || x.Skipped != tt.skipped {
				t.Errorf("matched %v skipped %q, want %v %q", x.Matched, x.Skipped, tt.matched, tt.skipped)
			}
			if len(x.Terms) != len(tt.terms) {
				t.Fatalf("terms %+v, want %d", x.Terms, len(tt.terms))
			}
			for i, want := range tt.terms {
				got := x.Terms[i]
				if got.Value != want.value || !strings.Contains(got.Detail, want.detail) || got.Reached != want.reached {
					t.Errorf("term %d %q = %v (reached %v), %q; want %v (reached %v), containing %q",
						i, got.Expr, got.Value, got.Reached, got.Detail, want.value, want.reached, want.detail)
				}
			}
		})
	}
	if got := strings.Join(plan.MatchedRules(), ","); got != "lab-or-high,stopper" {
		t.Errorf("plan matched %s", got)
	}
	if got := byRule["close-red-team"].Terms[1].Expr; got != "all(devices(incident), {.deviceDnsName in lists.redteam_devices})" {
		t.Errorf("term source %q", got)
	}
}

// TestExplainAgreesWithEvaluate checks that explain's matched flags are the
// plan's, for every fixture against the starter library, and that want
// limits the explanations.
func TestExplainAgreesWithEvaluate(t *testing.T) {
	t.Parallel()
	rs, err := rules.Load("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range fullFixtures() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := rules.Input{Event: event(t, name), Now: t0}
			plan, xs := rs.Explain(in, nil)
			if len(xs) != len(rs.Rules()) {
				t.Fatalf("%d explanations for %d rules", len(xs), len(rs.Rules()))
			}
			want := map[string]bool{}
			for _, m := range rs.Evaluate(in).Matches {
				want[m.Rule] = true
			}
			for _, x := range xs {
				if x.Matched != want[x.Rule] {
					t.Errorf("%s: explain matched %v, evaluate %v", x.Rule, x.Matched, want[x.Rule])
				}
				if x.Skipped == "" && len(x.Terms) == 0 {
					t.Errorf("%s: evaluated without terms", x.Rule)
				}
			}
			if len(plan.Matches) != len(want) {
				t.Errorf("explain's plan has %d matches, evaluate's %d", len(plan.Matches), len(want))
			}
			_, one := rs.Explain(in, func(r *rules.Rule) bool { return r.ID == "flag-vip-user" })
			if len(one) != 1 || one[0].Rule != "flag-vip-user" {
				t.Errorf("want limits to one rule: %+v", one)
			}
		})
	}
}

func TestExplainText(t *testing.T) {
	t.Parallel()
	rs := loadTemp(t, map[string]string{"rules.yaml": explainRules})
	ev, err := incident.Decode([]byte(threeDevices))
	if err != nil {
		t.Fatal(err)
	}
	_, xs := rs.Explain(rules.Input{Event: ev, Now: t0}, func(r *rules.Rule) bool { return r.ID == "close-red-team" || r.ID == "off" })
	var b strings.Builder
	if err := rules.WriteExplainText(&b, xs); err != nil {
		t.Fatal(err)
	}
	want := `  rule close-red-team: no match
    true   incident.status == "active"
           incident.status is "active"
    false  && all(devices(incident), {.deviceDnsName in lists.redteam_devices})
           1 of 3 devices not in lists.redteam_devices: ws-fin-014.contoso.com
  rule off: skipped: disabled
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
