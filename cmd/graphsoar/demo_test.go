package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// inOrder checks that out holds each of want, in this order.
func inOrder(t *testing.T, out string, want ...string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Errorf("output lacks %q after offset %d:\n%s", w, at, out)
			return
		}
		at += i + len(w)
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "demo")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	const hash = "9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	inOrder(t, r.out,
		"rules                      9 from the starter rules built into graphsoar and the demo's approval rule",
		// Each created event: the rules, each write with its Graph result.
		"event b6f7c0de-0001  created  incident 4211",
		"rule block-known-ransomware",
		"applied    classify         classification=truePositive determination=malware  (PATCH incident 200",
		"applied    block_file_hash  hash="+hash,
		"(POST indicators 200",
		"rule escalate-ransomware",
		// The demo's rule holds its action for a person's approval.
		"rule isolate-ransomware-host",
		"awaiting_approval tag              tags=[isolate-device]  held for approval ",
		"=> done in",
		"event b6f7c0de-0002  created  incident 4212",
		"rule close-red-team-tests",
		"applied    set_status       status=resolved",
		"event b6f7c0de-0003  created  incident 4213",
		"rule phishing-triage",
		"applied    assign           assignedTo=phishing-desk@contoso.com",
		// The copy is dropped by JetStream.
		"event b6f7c0de-0001",
		"not stored: JetStream already holds this event",
		// The echo of our own writes writes nothing.
		"event demo-echo-4211  updated  incident 4211",
		"unchanged  classify",
		"duplicate  block_file_hash",
		"duplicate  comment",
		"nothing written, the incident already is as the rules want it",
		"event demo-echo-4212  updated  incident 4212",
		"no rule matched",
		"event b6f7c0de-0005  updated  incident 4213  (thin reference",
		"duplicate  comment          comment=\"flag-vip-user",
		// An event whose incident Graph does not show yet is dead-lettered.
		"event demo-late-4214  created  incident 4214  (thin reference",
		"=> dead-lettered (incident_not_found)",
		"Graph now returns incident 4214: replay the dead letter",
		// The final state of each incident, from the emulator.
		"incident 4211",
		"status inProgress, severity high, assigned to tier2@contoso.com",
		"classification truePositive, determination malware",
		"incident 4212",
		"status resolved",
		"classification informationalExpectedActivity, determination securityTesting",
		"incident 4213",
		"tags vip, phishing",
		"incident 4214",
		"status active",
		"Defender indicators: 1",
		"FileSha256 "+hash+"  action BlockAndRemediate  severity High  title \"graphsoar: block-known-ransomware\"",
		"Graph and Defender received 3 PATCH, 4 comment POST, 1 indicator POST",
		"Actions awaiting approval: 1",
		"tag tags=[isolate-device] on incident 4211 (rule isolate-ransomware-host)",
	)
	if n := strings.Count(r.out, "=> dead-lettered"); n != 1 || strings.Contains(r.err, "level=ERROR") {
		t.Errorf("the demo had failures (%d dead letters, 1 expected):\n%s\n%s", n, r.out, r.err)
	}
}

func TestDemoOwnRules(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"mine.yaml": `rules:
  - id: note-high
    order: 1
    when: incident.severity == "high"
    actions:
      - tag: seen-by-me
`})
	r := cli(t, nil, "", "demo", "--rules", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	inOrder(t, r.out, "1 from "+dir, "incident 4211", "rule note-high", "applied    tag              tags=[seen-by-me]",
		"event b6f7c0de-0002", "no rule matched", "incident 4211", "tags seen-by-me")

	bad := writeFiles(t, map[string]string{"bad.yaml": "rules:\n  - {id: r, order: 1, when: 'incident.sevrity == \"high\"', actions: [{tag: x}]}\n"})
	r = cli(t, nil, "", "demo", "--rules", bad)
	if want := filepath.Join(bad, "bad.yaml") + ":2:"; r.code != 1 || !strings.Contains(r.err, want) || !strings.Contains(r.err, `did you mean "severity"`) {
		t.Errorf("bad rules: exit %d, want 1 naming %s:\n%s", r.code, want, r.err)
	}
}

// TestDemoServe keeps the demo running and does what the README tells a
// newcomer to: reopen an incident in the emulator, publish a thin event for
// it with graphsoar publish, and watch the worker close it again.
func TestDemoServe(t *testing.T) {
	t.Parallel()
	natsAddr, graphAddr, pageAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	stop, out, errb := runInBackground(t, nil, "demo", "--serve", "--nats-listen", natsAddr, "--graph-listen", graphAddr,
		"--listen", pageAddr)
	waitUntil(t, 60*time.Second, "the demo's scripted part", func() bool {
		return strings.Contains(out.String(), "Still running (--serve)")
	})
	if !strings.Contains(out.String(), "graphsoar publish --nats-url nats://"+natsAddr) {
		t.Errorf("the instructions lack the NATS address:\n%s", out.String())
	}
	// Without a token the live page is served on the loopback address.
	if !strings.Contains(out.String(), "Live page: http://"+pageAddr+"/\n") {
		t.Errorf("the instructions lack the live page:\n%s", out.String())
	}
	if code, body := httpGet("http://" + pageAddr + "/"); code != http.StatusOK || !strings.Contains(body, "<title>graphsoar live</title>") {
		t.Errorf("the live page: %d %.200s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPatch, "http://"+graphAddr+"/v1.0/security/incidents/4212", strings.NewReader(`{"status":"active"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reopen 4212: %s", resp.Status)
	}
	event := filepath.Join(t.TempDir(), "reopened.json")
	if err := os.WriteFile(event, []byte(`{"specversion":"1.0","id":"reopened-1","type":"com.microsoft.graph.security.incident.updated",
"tenantid":"`+fixtureTenant+`","data":{"id":"4212"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, nil, "", "publish", "--nats-url", "nats://"+natsAddr, "--event", event)
	if r.code != 0 || !strings.Contains(r.out, "published  reopened-1") {
		t.Fatalf("publish: exit %d %s %s", r.code, r.out, r.err)
	}
	reported := func() string {
		o := out.String()
		if i := strings.Index(o, "event reopened-1  incident 4212  tenant "+fixtureTenant); i >= 0 {
			return o[i:]
		}
		return ""
	}
	waitUntil(t, 30*time.Second, "the published event's report", func() bool { return strings.Contains(reported(), "=> ") })
	inOrder(t, reported(), "rule close-red-team-tests", "unchanged  classify", "applied    set_status       status=resolved  (PATCH incident 200",
		"duplicate  comment", "=> done in")
	if err := stop(); err != nil {
		t.Errorf("stop: %v\n%s", err, errb.String())
	}
	if !strings.HasSuffix(out.String(), "stopping\n") {
		t.Errorf("no clean stop:\n%s", out.String())
	}
}
