package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/natstest"
	"github.com/graphsoar/graphsoar/internal/undo"
	"github.com/graphsoar/graphsoar/internal/worker"
)

const undoRules = `rules:
  - id: contain-malware
    order: 1
    when: len(fileHashes(incident)) > 0
    actions:
      - classify: {classification: truePositive, determination: malware}
      - set_status: resolved
      - tag: [malware, auto-contained]
      - comment: "contain-malware: blocked {{ join(fileHashes(incident), ', ') }}"
      - block_file_hash: {hashes: "{{ fileHashes(incident) }}", reason: "malware in incident {{ incident.id }}"}
`

// undoIncident is the bare fixture as incident id, with an analyst's tag
// and one file whose SHA-256 is hash.
func undoIncident(t *testing.T, id, hash string) map[string]any {
	t.Helper()
	var inc map[string]any
	if err := json.Unmarshal(fixtures.Read("bare-incident.json"), &inc); err != nil {
		t.Fatal(err)
	}
	inc["id"], inc["customTags"] = id, []any{"vip"}
	alert := inc["alerts"].([]any)[0].(map[string]any)
	alert["incidentId"] = id
	alert["evidence"] = append(alert["evidence"].([]any), map[string]any{
		"@odata.type": "#microsoft.graph.security.fileEvidence", "verdict": "malicious", "roles": []any{}, "tags": []any{},
		"fileDetails": map[string]any{"sha256": hash, "fileName": "payload-" + id + ".exe"},
	})
	return inc
}

// analystToken is a bearer token the emulator reads as an analyst of the
// tenant (it never checks signatures).
func analystToken() string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]string{"tid": fixtureTenant, "upn": "analyst@contoso.com"})
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + ".x"
}

func auditRecords(t *testing.T, js jetstream.JetStream) []worker.AuditEvent {
	t.Helper()
	recs, unreadable, err := undo.Read(context.Background(), js, broker.DefaultTopology().AuditStream, undo.Filter{Rule: "contain-malware"})
	if err != nil || unreadable > 0 {
		t.Fatalf("audit records: %v (%d unreadable)", err, unreadable)
	}
	out := make([]worker.AuditEvent, len(recs))
	for i, r := range recs {
		out[i] = r.AuditEvent
	}
	return out
}

// writesSince are the requests after the first n of the emulator's log
// that are not reads.
func writesSince(fake *graphfake.Server, n int) []string {
	var out []string
	for _, r := range fake.Requests()[n:] {
		if r.Method != http.MethodGet {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// TestUndo: the real worker applies a rule to two incidents; an analyst then
// changes the status of one. undo --dry-run writes nothing; undo reverts the
// incident nobody touched fully and leaves the analyst's status alone on the
// other while reverting the rest there; each step is audited; a second undo
// does nothing more.
func TestUndo(t *testing.T) {
	t.Parallel()
	nsrv := natstest.Start(t)
	_, js := nsrv.Connect()
	fake := graphfake.New(graphfake.Options{})
	const a, b = "5101", "5102"
	hashes := map[string]string{a: strings.Repeat("a1", 32), b: strings.Repeat("b2", 32)}
	for _, id := range []string{a, b} {
		raw, _ := json.Marshal(undoIncident(t, id, hashes[id]))
		if err := fake.Seed(raw); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(fake)
	t.Cleanup(hs.Close)
	rulesDir := writeFiles(t, map[string]string{"r.yaml": undoRules})
	graphFlags := []string{"--nats-url", nsrv.URL(), "--graph-url", hs.URL, "--defender-url", hs.URL, "--auth", "none"}
	startWorker := func() func() error {
		listen := freeAddr(t)
		stop, _, _ := runInBackground(t, map[string]string{"GRAPHSOAR_LOG_FORMAT": "text"},
			append([]string{"run", "--rules", rulesDir, "--listen", listen, "--partitions", "2"}, graphFlags...)...)
		waitUntil(t, 30*time.Second, "the worker ready", func() bool {
			code, _ := httpGet("http://" + listen + "/readyz")
			return code == 200
		})
		return stop
	}
	publish := func(id, eventID, typ string) {
		inc, _ := fake.Incident(id)
		ev, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": eventID, "source": "test",
			"type": "com.microsoft.graph.security.incident." + typ, "tenantid": fixtureTenant, "data": inc})
		if _, err := js.Publish(context.Background(), "security.incidents."+fixtureTenant+"."+id, ev); err != nil {
			t.Fatal(err)
		}
	}
	stop := startWorker()
	for _, id := range []string{a, b} {
		publish(id, "created-"+id, "created")
	}
	waitUntil(t, 30*time.Second, "the rule's five audit records on each incident", func() bool {
		return len(auditRecords(t, js)) == 10
	})
	if err := stop(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	for _, r := range auditRecords(t, js) {
		if r.Result != "applied" {
			t.Fatalf("the rule did not apply everything: %+v", r)
		}
	}
	for _, id := range []string{a, b} {
		inc, _ := fake.Incident(id)
		if inc["status"] != "resolved" || inc["classification"] != "truePositive" || len(fake.Comments(id)) != 1 {
			t.Fatalf("incident %s after the rule: %v", id, inc)
		}
	}
	if n := len(fake.Indicators(fixtureTenant)); n != 2 {
		t.Fatalf("%d indicators after the rule, want 2", n)
	}

	// The analyst takes incident A back and adds a tag of their own.
	req, _ := http.NewRequest(http.MethodPatch, hs.URL+"/v1.0/security/incidents/"+a,
		bytes.NewReader([]byte(`{"status":"inProgress","customTags":["vip","malware","auto-contained","triaged"]}`)))
	req.Header.Set("Authorization", "Bearer "+analystToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("analyst PATCH: %v %v", resp, err)
	}
	resp.Body.Close()

	undoCmd := append([]string{"undo", "--rule", "contain-malware"}, graphFlags...)
	mark, audited := len(fake.Requests()), len(auditRecords(t, js))
	r := cli(t, nil, "", append(undoCmd, "--dry-run", "--format", "json")...)
	if r.code != 0 {
		t.Fatalf("undo --dry-run: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if w := writesSince(fake, mark); len(w) > 0 {
		t.Errorf("the dry run wrote to Graph: %v", w)
	}
	if n := len(auditRecords(t, js)); n != audited {
		t.Errorf("the dry run stored %d audit records", n-audited)
	}
	var dry undo.Report
	if err := json.Unmarshal([]byte(r.out), &dry); err != nil {
		t.Fatalf("dry run JSON: %v\n%s", err, r.out)
	}
	want := map[string]map[string]string{
		a: {"status": "skipped", "classification+determination": "planned", "tags": "planned", "block:" + hashes[a]: "planned", "comment": "planned"},
		b: {"status": "planned", "classification+determination": "planned", "tags": "planned", "block:" + hashes[b]: "planned", "comment": "planned"},
	}
	if len(dry.Incidents) != 2 {
		t.Fatalf("dry run: %d incidents, want 2\n%s", len(dry.Incidents), r.out)
	}
	for _, o := range dry.Incidents {
		got := map[string]string{}
		for _, s := range o.Steps {
			got[s.Key] = s.Result
		}
		if fmt.Sprint(got) != fmt.Sprint(want[o.Incident]) {
			t.Errorf("dry run of incident %s: %v, want %v", o.Incident, got, want[o.Incident])
		}
	}

	mark = len(fake.Requests())
	r = cli(t, nil, "", undoCmd...)
	if r.code != 0 {
		t.Fatalf("undo: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	t.Logf("undo:\n%s%s", r.out, r.err)
	for _, line := range []string{
		"applied  undo_patch    status resolved → active",
		"skipped  undo_patch    status resolved → active: changed since: status is inProgress now, not resolved as the rule set it; left alone",
		"applied  undo_patch    classification/determination truePositive/malware → unknown/unknown",
		"applied  undo_tag      remove tags malware, auto-contained",
		"applied  undo_block    delete indicator",
		"applied  undo_comment  graphsoar undo: rule contain-malware's changes were reverted",
	} {
		if !strings.Contains(r.out, line) {
			t.Errorf("undo output lacks %q", line)
		}
	}
	if n := strings.Count(r.out, "; idempotency record cleared: a rule may block the hash again"); n != 2 {
		t.Errorf("undo cleared %d idempotency records of blocks, want 2", n)
	}
	incB, _ := fake.Incident(b)
	if incB["status"] != "active" || incB["classification"] != "unknown" || incB["determination"] != "unknown" || fmt.Sprint(incB["customTags"]) != "[vip]" {
		t.Errorf("incident B not reverted: status %v, %v/%v, tags %v", incB["status"], incB["classification"], incB["determination"], incB["customTags"])
	}
	incA, _ := fake.Incident(a)
	if incA["status"] != "inProgress" || incA["classification"] != "unknown" || incA["determination"] != "unknown" || fmt.Sprint(incA["customTags"]) != "[vip triaged]" {
		t.Errorf("incident A: status %v (the analyst's inProgress must stay), %v/%v, tags %v", incA["status"], incA["classification"], incA["determination"], incA["customTags"])
	}
	if ind := fake.Indicators(fixtureTenant); len(ind) != 0 {
		t.Errorf("indicators left: %v", ind)
	}
	for id, wantIn := range map[string][]string{
		a: {"classification/determination truePositive/malware → unknown/unknown", "tags removed: malware, auto-contained",
			"of " + hashes[a] + " deleted", "Left alone, changed since: status (now inProgress).", "Its comment on this incident no longer applies."},
		b: {"status resolved → active", "tags removed: malware, auto-contained", "of " + hashes[b] + " deleted"},
	} {
		cs := fake.Comments(id)
		if len(cs) != 2 {
			t.Errorf("incident %s has %d comments, want the rule's and one correction", id, len(cs))
			continue
		}
		text := fmt.Sprint(cs[1]["comment"])
		for _, w := range append(wantIn, "graphsoar undo: rule contain-malware's changes were reverted: ") {
			if !strings.Contains(text, w) {
				t.Errorf("incident %s correction comment lacks %q:\n%s", id, w, text)
			}
		}
		if id == b && strings.Contains(text, "Left alone") {
			t.Errorf("incident B's correction says something was left alone:\n%s", text)
		}
	}
	// One PATCH and one comment per incident, one DELETE per indicator.
	writes := writesSince(fake, mark)
	slices.Sort(writes)
	if len(writes) != 6 {
		t.Errorf("undo made %d writes, want 6: %v", len(writes), writes)
	}

	// The undo's audit records, on each incident's audit subject.
	byIncident := map[string][]string{}
	for _, rec := range auditRecords(t, js)[audited:] {
		byIncident[rec.Incident] = append(byIncident[rec.Incident], rec.Action+":"+rec.Params.String("step")+"="+rec.Result)
		if rec.Action == undo.ActionComment && rec.Params.String("complete") != "true" {
			t.Errorf("the correction comment's record does not close the undo: %+v", rec)
		}
	}
	wantAudit := map[string][]string{
		a: {"undo_patch:status=skipped", "undo_patch:classification+determination=applied", "undo_tag:tags=applied", "undo_block:block:" + hashes[a] + "=applied", "undo_comment:comment=applied"},
		b: {"undo_patch:status=applied", "undo_patch:classification+determination=applied", "undo_tag:tags=applied", "undo_block:block:" + hashes[b] + "=applied", "undo_comment:comment=applied"},
	}
	if fmt.Sprint(byIncident) != fmt.Sprint(wantAudit) {
		t.Errorf("undo audit records:\n%v\nwant\n%v", byIncident, wantAudit)
	}
	subjects := map[string]bool{}
	s, _ := js.Stream(context.Background(), broker.DefaultTopology().AuditStream)
	for _, id := range []string{a, b} {
		m, err := s.GetLastMsgForSubject(context.Background(), worker.AuditSubject(fixtureTenant, id))
		if err == nil && strings.Contains(string(m.Data), `"action":"undo_comment"`) {
			subjects[id] = true
		}
	}
	if len(subjects) != 2 {
		t.Errorf("the last audit record of each incident's subject is not its undo_comment: %v", subjects)
	}

	// A second run finds everything done.
	mark, audited = len(fake.Requests()), len(auditRecords(t, js))
	r = cli(t, nil, "", append(undoCmd, "--format", "json")...)
	if r.code != 0 {
		t.Fatalf("second undo: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	var again undo.Report
	if err := json.Unmarshal([]byte(r.out), &again); err != nil {
		t.Fatal(err)
	}
	for _, o := range again.Incidents {
		if o.UndoneAt == nil || len(o.Steps) != 0 {
			t.Errorf("second run on incident %s: %+v", o.Incident, o)
		}
	}
	if w := writesSince(fake, mark); len(w) > 0 {
		t.Errorf("the second run wrote: %v", w)
	}
	if n := len(auditRecords(t, js)); n != audited {
		t.Errorf("the second run stored %d audit records", n-audited)
	}
	for _, id := range []string{a, b} {
		if n := len(fake.Comments(id)); n != 2 {
			t.Errorf("incident %s has %d comments after the second run", id, n)
		}
	}

	// Undo cleared the worker's record of having blocked B's hash: on B's
	// next version the rule (enabled again) blocks it again, a new
	// indicator, where the worker would otherwise answer "duplicate".
	stop = startWorker()
	publish(b, "updated-"+b+"-after-undo", "updated")
	var block worker.AuditEvent
	waitUntil(t, 30*time.Second, "the block_file_hash record of B's next event", func() bool {
		for _, rec := range auditRecords(t, js) {
			if rec.EventID == "updated-"+b+"-after-undo" && rec.Action == "block_file_hash" && rec.Result != "pending" {
				block = rec
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	ind := fake.Indicators(fixtureTenant)
	if block.Result != "applied" || len(ind) != 1 || ind[0]["indicatorValue"] != hashes[b] {
		t.Errorf("after undo, the rule did not block B's hash again: audited %s (%s), indicators %v", block.Result, block.Error, ind)
	}
}

func TestUndoUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"undo"}, "--rule is required"},
		{[]string{"undo", "--rule", "r", "--since", "yesterday"}, `--since: "yesterday"`},
		{[]string{"undo", "--rule", "r", "--format", "yaml"}, `--format: "yaml" is not text or json`},
		{[]string{"undo", "--rule", "r", "--auth", "kerberos"}, `auth "kerberos"`},
	} {
		if r := cli(t, nil, "", tt.args...); r.code != 2 || !strings.Contains(r.err, tt.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 and %q", tt.args, r.code, r.err, tt.want)
		}
	}
}
