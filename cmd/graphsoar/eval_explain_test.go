package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const explainCLIRules = `
lists:
  redteam_devices: [rt-win-01.contoso.com, rt-win-02.contoso.com]
rules:
  - id: close-red-team
    order: 10
    when: incident.status == "active" && all(devices(incident), {.deviceDnsName in lists.redteam_devices})
    actions: [{set_status: resolved}]
  - id: high-only
    order: 20
    when: incident.severity == "high"
    actions: [{tag: high}]
`

// incidentLine is a bare incident on one line, on the given devices.
func incidentLine(id, severity string, devices ...string) string {
	var ev []string
	for _, d := range devices {
		ev = append(ev, fmt.Sprintf(`{"@odata.type": "#microsoft.graph.security.deviceEvidence", "deviceDnsName": %q}`, d))
	}
	return fmt.Sprintf(`{"id": %q, "tenantId": "t1", "status": "active", "severity": %q, "lastUpdateDateTime": "2026-11-20T10:00:00Z", "alerts": [{"id": "a-%s", "evidence": [%s]}]}`,
		id, severity, id, strings.Join(ev, ", "))
}

func TestEvalExplainJSONLines(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"r.yaml": explainCLIRules})
	var in []string
	for i := range 300 {
		in = append(in, incidentLine(fmt.Sprint(1000+i), "medium", "rt-win-01.contoso.com", fmt.Sprintf("ws-%d.contoso.com", i)))
	}
	in[150] = "{not json"
	r := cli(t, nil, strings.Join(in, "\n")+"\n", "eval", "--rules", dir, "--event", "-", "--format", "json", "--explain")
	if r.code != 1 || !strings.Contains(r.err, "stdin:151: ") || !strings.Contains(r.err, "1 of 300 events could not be evaluated") {
		t.Fatalf("code %d, stderr %s", r.code, r.err)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 299 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		var got struct {
			Incident string `json:"incident"`
			Explain  []struct {
				Rule    string `json:"rule"`
				Matched bool   `json:"matched"`
				Skipped string `json:"skipped"`
				Terms   []struct {
					Expr   string `json:"expr"`
					Value  any    `json:"value"`
					Detail string `json:"detail"`
				} `json:"terms"`
			} `json:"explain"`
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatal(err)
		}
		n := i
		if i >= 150 {
			n++ // the bad line has no plan
		}
		if got.Incident != fmt.Sprint(1000+n) {
			t.Fatalf("line %d is incident %s, want %d: plans out of order", i, got.Incident, 1000+n)
		}
		if len(got.Explain) != 2 || got.Explain[0].Matched || len(got.Explain[0].Terms) != 2 {
			t.Fatalf("explain %+v", got.Explain)
		}
		term := got.Explain[0].Terms[1]
		want := fmt.Sprintf("1 of 2 devices not in lists.redteam_devices: ws-%d.contoso.com", n)
		if term.Value != false || term.Detail != want {
			t.Fatalf("failing term %+v, want detail %q", term, want)
		}
	}
}

func TestEvalExplainText(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"r.yaml": explainCLIRules, "ev.json": incidentLine("7", "medium", "ws-fin-014.contoso.com")})
	r := cli(t, nil, "", "eval", "--rules", dir, "--event", dir+"/ev.json", "--rule", "high-only")
	want := `incident 7 (tenant t1) event t1:7:2026-11-20T10:00:00Z
  no rule matched
  why:
  rule high-only: no match
    false  incident.severity == "high"
           incident.severity is "medium"
`
	if r.code != 0 || r.out != want {
		t.Errorf("code %d, stdout\n%s\nwant\n%s\nstderr %s", r.code, r.out, want, r.err)
	}
	r = cli(t, nil, "", "eval", "--rules", dir, "--event", dir+"/ev.json", "--rule", "high-onyl")
	if r.code != 2 || !strings.Contains(r.err, `no rule "high-onyl"`) || !strings.Contains(r.err, `did you mean "high-only"?`) {
		t.Errorf("unknown rule: code %d, stderr %s", r.code, r.err)
	}
}
