package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// demoReporter tells a person what the demo's worker did: each event, the
// rules that matched, each Graph write with its result (from the audit
// subject), and the final state of the incidents in the emulator.
type demoReporter struct {
	out       io.Writer
	fake      *graphfake.Server
	nc        *nats.Conn // the worker's connection: Flush makes its audit publishes arrive
	audits    <-chan *nats.Msg
	settled   chan consume.Settlement
	reg       *actions.Registry // tells PATCH actions from the others
	blockWith graph.BlockBackend
	approvals *approval.Store // nil: no approvals bucket
	byEvent   map[string][]worker.AuditEvent
	dead      int
}

func newDemoReporter(out io.Writer, fake *graphfake.Server, nc *nats.Conn) *demoReporter {
	return &demoReporter{out: out, fake: fake, nc: nc, settled: make(chan consume.Settlement, 1024),
		byEvent: map[string][]worker.AuditEvent{}}
}

// settledHook is the worker's OnSettled: it must not block, so a settlement
// that finds the buffer full is only not shown.
func (r *demoReporter) settledHook() func(consume.Settlement) {
	return func(s consume.Settlement) {
		select {
		case r.settled <- s:
		default:
		}
	}
}

func (r *demoReporter) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

func (r *demoReporter) header(natsURL, graphURL, rulesFrom string, n int) {
	r.printf("graphsoar demo\n")
	r.printf("  NATS JetStream (embedded)  %s\n", natsURL)
	r.printf("  Graph emulator             %s (%d sample incidents)\n", graphURL, len(r.fake.Incidents()))
	r.printf("  rules                      %d from %s\n", n, rulesFrom)
}

func (r *demoReporter) section(title, text string) {
	r.printf("\n== %s\n%s\n", title, text)
}

// script publishes the demo's events one at a time and reports each.
func (r *demoReporter) script(ctx context.Context, pub *publisher, timeout time.Duration) error {
	r.section("1. New incidents arrive",
		"Defender XDR raised three incidents; a producer publishes a created event for each.")
	for _, name := range demoIncidents {
		if err := r.event(ctx, pub, fixtures.Read(name), timeout); err != nil {
			return err
		}
	}
	r.section("2. A producer sends an event twice",
		"JetStream drops the copy: its Nats-Msg-Id (tenant:incident:lastUpdateDateTime) was seen.")
	if err := r.event(ctx, pub, fixtures.Read(demoIncidents[0]), timeout); err != nil {
		return err
	}
	r.section("3. Graph reports graphsoar's own changes back",
		"The producer now sees the incidents updated by graphsoar's writes. Rules may match\n"+
			"again, but the incident already is as they want it: nothing is written twice, no loop.\n"+
			"The last event is a thin reference (only the id): the worker reads the incident from Graph.")
	for _, id := range []string{"4211", "4212"} {
		b, err := echoEvent(r.fake, id)
		if err != nil {
			return err
		}
		if err := r.event(ctx, pub, b, timeout); err != nil {
			return err
		}
	}
	if err := r.event(ctx, pub, fixtures.Read("thin-reference.json"), timeout); err != nil {
		return err
	}
	if r.dead > 0 {
		r.finalState()
		return &exitError{code: 1, err: fmt.Errorf("%d event(s) dead-lettered: see the messages above", r.dead)}
	}
	return r.lateIncident(ctx, pub, timeout)
}

// demoLateIncident is the incident Graph does not show when its event
// arrives (step 4).
const demoLateIncident = "4214"

// lateIncident announces an incident Graph does not return yet: the event
// is dead-lettered (incident_not_found); then the emulator gets the
// incident, so that replaying the dead letter succeeds.
func (r *demoReporter) lateIncident(ctx context.Context, pub *publisher, timeout time.Duration) error {
	r.section("4. An event arrives before Graph shows its incident",
		"A producer announces incident "+demoLateIncident+" by reference, but Graph does not return it yet. The\n"+
			"worker cannot read it and stores the event as a dead letter (incident_not_found).")
	event, incident, err := lateIncidentFixtures()
	if err != nil {
		return err
	}
	dead := r.dead
	if err := r.event(ctx, pub, event, timeout); err != nil {
		return err
	}
	if r.dead != dead+1 {
		return fmt.Errorf("the event of incident %s was not dead-lettered", demoLateIncident)
	}
	r.dead = dead
	if err := r.fake.Seed(incident); err != nil {
		return fmt.Errorf("seed incident %s: %w", demoLateIncident, err)
	}
	r.printf("  Graph now returns incident %s: replay the dead letter (on the live page of demo --serve,\n"+
		"  or graphsoar dlq replay --incident %s) and the worker handles the event again.\n", demoLateIncident, demoLateIncident)
	return nil
}

// lateIncidentFixtures are the thin event of the late incident and the
// incident itself: the red-team fixture under another id.
func lateIncidentFixtures() (event, incident []byte, err error) {
	var env map[string]any
	if err := json.Unmarshal(fixtures.Read("redteam-created.json"), &env); err != nil {
		return nil, nil, fmt.Errorf("late incident fixture: %w", err)
	}
	data, _ := env["data"].(map[string]any)
	if data == nil {
		return nil, nil, errors.New("late incident fixture: no data")
	}
	data["id"] = demoLateIncident
	data["displayName"] = "Red team: credential dumping on test hosts (second run)"
	data["incidentWebUrl"] = "https://security.microsoft.com/incidents/" + demoLateIncident
	env["id"], env["subject"] = "demo-late-"+demoLateIncident, demoLateIncident
	if incident, err = json.Marshal(env); err != nil {
		return nil, nil, err
	}
	event, err = json.Marshal(map[string]any{
		"specversion": "1.0", "id": "demo-late-" + demoLateIncident, "source": "graphsoar/demo",
		"type": "com.microsoft.graph.security.incident.created", "subject": demoLateIncident,
		"tenantid": env["tenantid"], "datacontenttype": "application/json", "data": map[string]any{"id": demoLateIncident},
	})
	return event, incident, err
}

// event publishes one event, waits until the worker settled it and reports it.
func (r *demoReporter) event(ctx context.Context, pub *publisher, b []byte, timeout time.Duration) error {
	res, err := pub.publish(ctx, b)
	if err != nil {
		return err
	}
	ev := res.Event
	r.printf("\nevent %s  %s  incident %s", ev.ID, ev.Type, ev.IncidentID)
	if ev.Thin() {
		r.printf("  (thin reference: the worker reads the incident from Graph)\n")
	} else {
		inc := ev.Incident
		r.printf("  %q  severity %s, status %s\n", inc.DisplayName, inc.Severity, inc.Status)
	}
	if res.Duplicate {
		r.printf("  not stored: JetStream already holds this event (stream %s); the worker never sees the copy\n", res.Ack.Stream)
		return nil
	}
	r.printf("  published to %s (stream %s #%d)\n", res.Subject, res.Ack.Stream, res.Ack.Sequence)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("event %s: not handled within %v", ev.ID, timeout)
		case s := <-r.settled:
			if s.EventID != ev.ID {
				r.report(s, true)
				continue
			}
			r.report(s, false)
			if s.Outcome != "retried" {
				return nil
			}
		}
	}
}

// follow reports every settled event until ctx ends (--serve).
func (r *demoReporter) follow(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			r.printf("\nstopping\n")
			return nil
		case s := <-r.settled:
			r.printf("\nevent %s  incident %s  tenant %s  (%s)\n", orNone(s.EventID), orNone(s.Incident), orNone(s.Tenant), s.Subject)
			r.report(s, false)
		}
	}
}

// collectAudits moves the audit events that arrived into byEvent. The worker
// publishes an event's audit records before settling it on the same
// connection, so after a Flush they have all arrived.
func (r *demoReporter) collectAudits() {
	if err := r.nc.Flush(); err != nil {
		r.printf("  (audit records may be missing: %v)\n", err)
	}
	for {
		select {
		case m := <-r.audits:
			var a worker.AuditEvent
			if err := json.Unmarshal(m.Data, &a); err != nil {
				r.printf("  (audit record on %s not readable: %v)\n", m.Subject, err)
				continue
			}
			r.byEvent[a.EventID] = append(r.byEvent[a.EventID], a)
		default:
			return
		}
	}
}

// report prints the rules, writes and outcome of one settled event.
func (r *demoReporter) report(s consume.Settlement, other bool) {
	r.collectAudits()
	if other {
		r.printf("  (meanwhile event %s of incident %s settled: %s)\n", orNone(s.EventID), orNone(s.Incident), s.Outcome)
	}
	recs := r.byEvent[s.EventID]
	delete(r.byEvent, s.EventID)
	if !other {
		r.printAudits(recs)
	}
	took := float64(s.Settled.Sub(s.Published)) / float64(time.Millisecond)
	switch s.Outcome {
	case "acked":
		r.printf("  => done in %s: %s\n", millis(took), writeSummary(recs))
	case "skipped_stale":
		r.printf("  => skipped: the worker already handled a newer version of this incident\n")
	case "retried":
		r.printf("  => will be retried (%s): %v; JetStream redelivers it\n", s.Reason, s.Err)
	case "dead_lettered":
		r.dead++
		r.printf("  => dead-lettered (%s): %v\n     the event is stored on graphsoar.dlq.%s.%s\n", s.Reason, s.Err, orNone(s.Tenant), orNone(s.Incident))
	default:
		r.printf("  => %s\n", s.Outcome)
	}
}

// printAudits prints audit records grouped by rule, rules in plan order.
func (r *demoReporter) printAudits(recs []worker.AuditEvent) {
	if len(recs) == 0 {
		r.printf("  no rule matched\n")
		return
	}
	var order []string
	byRule := map[string][]worker.AuditEvent{}
	for _, a := range recs {
		if _, seen := byRule[a.Rule]; !seen {
			order = append(order, a.Rule)
		}
		byRule[a.Rule] = append(byRule[a.Rule], a)
	}
	for _, rule := range order {
		r.printf("  rule %s\n", rule)
		for _, a := range byRule[rule] {
			params := plainParams(a.Params)
			line := fmt.Sprintf("    %-10s %-16s %s", a.Result, a.Action, rules.FormatParams(params))
			if a.GraphStatus != 0 && a.Result != "unchanged" && a.Result != "duplicate" {
				line += fmt.Sprintf("  (%s %d, %s)", r.request(a.Action, params), a.GraphStatus, millis(a.DurationMS))
			}
			if a.Result == "awaiting_approval" {
				line += "  held for approval " + a.Approval
			}
			if a.Error != "" {
				line += "  error: " + a.Error
			}
			r.printf("%s\n", line)
		}
	}
}

// request names the Graph request that carries an action: every incident
// field change of an event goes in one PATCH.
func (r *demoReporter) request(action string, params actions.Params) string {
	switch {
	case action == "block_file_hash" && r.blockWith == graph.BlockSecurityActions:
		return "POST securityActions"
	case action == "block_file_hash":
		return "POST indicators"
	case action == "comment":
		return "POST comments"
	case r.reg != nil && r.reg.Desire(actions.Planned{Type: action, Params: params}) != nil:
		return "PATCH incident"
	}
	return "Graph"
}

func millis(ms float64) string {
	if ms < 1 {
		return "<1ms"
	}
	return fmt.Sprintf("%.0fms", ms)
}

// writeSummary counts the Graph writes among an event's audit records (the
// actions merged into one PATCH share its request id).
func writeSummary(recs []worker.AuditEvent) string {
	if len(recs) == 0 {
		return "nothing to do"
	}
	requests := map[string]bool{}
	notSent := 0
	for i, a := range recs {
		switch a.Result {
		case "applied":
			key := a.GraphRequestID
			if key == "" {
				key = fmt.Sprint("#", i)
			}
			requests[key] = true
		case "unchanged", "duplicate":
			notSent++
		}
	}
	switch {
	case len(requests) == 0:
		return "nothing written, the incident already is as the rules want it"
	case notSent > 0:
		return fmt.Sprintf("%d Graph write(s); %d action(s) needed none", len(requests), notSent)
	}
	return fmt.Sprintf("%d Graph write(s)", len(requests))
}

// plainParams turns the lists of decoded audit parameters back into []string
// for rules.FormatParams.
func plainParams(p actions.Params) actions.Params {
	out := make(actions.Params, len(p))
	for k, v := range p {
		if list, ok := v.([]any); ok {
			s := make([]string, len(list))
			for i, x := range list {
				s[i] = fmt.Sprint(x)
			}
			v = s
		}
		out[k] = v
	}
	return out
}

// echoEvent is the updated event a producer would publish for incident id as
// the emulator now holds it.
func echoEvent(fake *graphfake.Server, id string) ([]byte, error) {
	inc, ok := fake.Incident(id)
	if !ok {
		return nil, fmt.Errorf("emulator has no incident %s", id)
	}
	return json.Marshal(map[string]any{
		"specversion": "1.0", "id": "demo-echo-" + id, "source": "graphsoar/demo",
		"type": "com.microsoft.graph.security.incident.updated", "subject": id,
		"time": inc["lastUpdateDateTime"], "tenantid": inc["tenantId"], "datacontenttype": "application/json",
		"data": inc,
	})
}

// finalState prints the emulator's incidents and security actions, and the
// writes Graph received.
func (r *demoReporter) finalState() {
	r.section("Final state in the Graph emulator", "")
	incs := r.fake.Incidents()
	sort.Slice(incs, func(i, j int) bool { return fmt.Sprint(incs[i]["id"]) < fmt.Sprint(incs[j]["id"]) })
	for _, inc := range incs {
		id := fmt.Sprint(inc["id"])
		r.printf("incident %s  %q\n", id, inc["displayName"])
		r.printf("  status %s, severity %s, assigned to %s\n", inc["status"], inc["severity"], orNone(str(inc["assignedTo"])))
		r.printf("  classification %s, determination %s\n", inc["classification"], inc["determination"])
		r.printf("  tags %s\n", orNone(strings.Join(strs(inc["customTags"]), ", ")))
		for _, c := range r.fake.Comments(id) {
			r.printf("  comment %q\n", c["comment"])
		}
	}
	tenants := map[string]bool{}
	for _, inc := range incs {
		tenants[str(inc["tenantId"])] = true
	}
	var inds []map[string]any
	for _, t := range slices.Sorted(maps.Keys(tenants)) {
		inds = append(inds, r.fake.Indicators(t)...)
	}
	r.printf("Defender indicators: %d\n", len(inds))
	for _, ind := range inds {
		r.printf("  %s %s  action %s  severity %s  title %q  description %q\n", ind["indicatorType"], ind["indicatorValue"],
			ind["action"], ind["severity"], ind["title"], ind["description"])
	}
	if acts := r.fake.SecurityActions(); len(acts) > 0 {
		r.printf("legacy security actions: %d\n", len(acts))
		for _, a := range acts {
			r.printf("  %s  status %s  reason %q\n", a["name"], a["status"], a["actionReason"])
		}
	}
	var patches, comments, blocks, reads int
	for _, q := range r.fake.Requests() {
		switch {
		case q.Method == "PATCH":
			patches++
		case q.Method == "POST" && strings.HasSuffix(q.Path, "/comments"):
			comments++
		case q.Method == "POST" && (strings.Contains(q.Path, "securityActions") || strings.HasPrefix(q.Path, "/api/indicators")):
			blocks++
		case q.Method == "GET":
			reads++
		}
	}
	r.printf("Graph and Defender received %d PATCH, %d comment POST, %d indicator POST and %d GET request(s).\n",
		patches, comments, blocks, reads)
	r.heldActions()
	r.printf("\nResults: applied = written to Graph; unchanged = the incident already had it, nothing sent;\n" +
		"duplicate = written for an earlier event (idempotency record), not sent again;\n" +
		"awaiting_approval = held until a person approves it (live page, graphsoar approvals).\n")
}

// heldActions prints the actions awaiting approval.
func (r *demoReporter) heldActions() {
	if r.approvals == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	recs, err := r.approvals.List(ctx)
	if err != nil {
		r.printf("Actions awaiting approval: not readable: %v\n", err)
		return
	}
	var pending []approval.Record
	for _, rec := range recs {
		if rec.Status == approval.Pending {
			pending = append(pending, rec)
		}
	}
	r.printf("Actions awaiting approval: %d\n", len(pending))
	for _, rec := range pending {
		r.printf("  %s  %s %s on incident %s (rule %s)\n", rec.ID, rec.Action, rules.FormatParams(plainParams(rec.Params)), rec.Incident, rec.Rule)
	}
}

func (r *demoReporter) serveHelp(natsURL, graphURL, pageURL string, token bool) {
	page := "The live page is not served (no --listen)."
	switch {
	case pageURL != "" && token:
		page = "Live page: " + pageURL + "?token=<your --ui-token> (once; a cookie keeps it)"
	case pageURL != "":
		page = "Live page: " + pageURL
	}
	r.section("Still running (--serve); Ctrl-C stops", page+`
  approve or reject the held action, replay the dead letter, watch events arrive.
`+fmt.Sprintf(`Publish your own events and watch them here:
  graphsoar publish --nats-url %s --event my-incident.json
  nats --server %s pub security.incidents.<tenant>.<incident> --header Nats-Msg-Id:<id> "$(cat my-incident.json)"
Read the emulator's incidents:
  curl %s/v1.0/security/incidents
Audit records are on graphsoar.audit.>, dead letters on graphsoar.dlq.>:
  nats --server %s sub 'graphsoar.audit.>'`, natsURL, natsURL, graphURL, natsURL))
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
