package replica_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// A worker that dies after Graph accepted its write and before it could
// ack: the event comes back to another worker, which must not write again.
func TestCrashBetweenWriteAndAckDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		rules  string
		event  string
		count  func(e *env) int
		verify string // the Graph read that proves the write happened
	}{
		{"indicator", `
lists:
  bad: [9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7]
rules:
  - {id: block, order: 1, when: 'any(fileHashes(incident), {# in lists.bad})', actions: [{block_file_hash: {hashes: "{{ fileHashes(incident) }}"}}]}
`, "ransomware-created.json", func(e *env) int { return len(e.fake.Indicators(tenant)) }, "/api/indicators"},
		{"comment", `
rules:
  - {id: note, order: 1, when: 'any(devices(incident), {.rbacGroupName == "RedTeam"})', actions: [{comment: "Red team devices"}]}
`, "redteam-created.json", func(e *env) int { return len(e.comments("4212")) }, "/v1.0/security/incidents/4212"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{})
			rs := rulesFrom(t, tt.rules)
			var crashed atomic.Bool
			hook := &graphHook{Graph: e.graphClient(nil)}
			first := e.start("w1", rules.Static{RS: rs}, hook, nil)
			crash := func() {
				if crashed.CompareAndSwap(false, true) {
					// The process dies: no ack, no heartbeat, no lease renewal.
					first.nc.Close()
				}
			}
			hook.onBlock = func(context.Context, string, string) error { crash(); return nil }
			hook.onComment = func(context.Context, string, string, string) error { crash(); return nil }
			e.publishFixture(tt.event)
			e.waitFor(10*time.Second, "the first write", func() bool { return tt.count(e) == 1 })

			second := e.start("w2", rules.Static{RS: rs}, e.graphClient(nil), nil)
			e.waitFor(30*time.Second, "the event redelivered and settled", func() bool {
				return e.settled() && testutil.ToFloat64(second.metrics.Events.WithLabelValues("acked")) == 1
			})
			if n := tt.count(e); n != 1 {
				t.Fatalf("%d writes after the redelivery, want 1", n)
			}
			if len(e.fake.RequestsFor("GET", tt.verify)) == 0 {
				t.Errorf("the second worker did not check Graph (GET %s) before deciding", tt.verify)
			}
			e.waitFor(5*time.Second, "the duplicate audited", func() bool {
				for _, a := range e.audits() {
					if a.Worker == "w2" && a.Result == "duplicate" {
						return true
					}
				}
				return false
			})
		})
	}
}

// An ambiguous failure (Graph applied the comment, the response was lost):
// the retry checks Graph first.
func TestAmbiguousWriteIsCheckedBeforeRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var once atomic.Bool
	hook := &graphHook{Graph: e.graphClient(nil)}
	hook.onComment = func(context.Context, string, string, string) error {
		if once.CompareAndSwap(false, true) {
			// Graph applied it, but the response never arrived.
			return graph.NewError("comment", 0, true, 0, context.DeadlineExceeded)
		}
		return nil
	}
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, hook, nil)
	e.publishFixture("redteam-created.json")
	e.waitFor(20*time.Second, "settled", func() bool {
		return e.settled() && testutil.ToFloat64(r.metrics.Events.WithLabelValues("acked")) == 1
	})
	if testutil.ToFloat64(r.metrics.Events.WithLabelValues("retried")) != 1 {
		t.Error("the failed comment should have been retried once")
	}
	if c := e.comments("4212"); len(c) != 1 {
		t.Errorf("comments %q", c)
	}
}

func TestOwnUpdateEndsInNoWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// No guard on the status: the rule matches our own update too, and only
	// the desired state stops the loop.
	rs := rulesFrom(t, `
rules:
  - id: close-red-team
    order: 1
    when: 'any(devices(incident), {.rbacGroupName == "RedTeam"})'
    actions:
      - classify: { classification: informationalExpectedActivity, determination: securityTesting }
      - set_status: resolved
      - tag: red-team
      - comment: "Closed by {{ rule.id }}"
`)
	r := e.start("w1", rules.Static{RS: rs}, e.graphClient(nil), nil)
	e.publishFixture("redteam-created.json")
	e.waitFor(10*time.Second, "first event", func() bool { return e.settled() && len(e.comments("4212")) == 1 })
	writes := func() int {
		return len(e.fake.RequestsFor("PATCH", "")) + len(e.fake.RequestsFor("POST", ""))
	}
	before, reads := writes(), len(e.fake.RequestsFor("GET", ""))
	// Our PATCH changed the incident: its update event comes back.
	inc, _ := e.fake.Incident("4212")
	echo := envelope(t, "echo-1", "updated", inc)
	e.publish(echo, tenant, "4212", "")
	e.waitFor(10*time.Second, "echo settled and audited", func() bool {
		n := 0
		for _, a := range e.audits() {
			if a.EventID == "echo-1" {
				n++
			}
		}
		return e.settled() && testutil.ToFloat64(r.metrics.Events.WithLabelValues("acked")) == 2 && n == 4
	})
	if after := writes(); after != before {
		t.Errorf("our own update caused %d more writes", after-before)
	}
	// Graph says graphsoar made this version and everything is in place:
	// not even a GET.
	if after := len(e.fake.RequestsFor("GET", "")); after != reads {
		t.Errorf("our own update caused %d GET requests, want none", after-reads)
	}
	results := map[string]int{}
	for _, a := range e.audits() {
		if a.EventID == "echo-1" {
			results[a.Result]++
		}
	}
	if results["applied"] != 0 || results["unchanged"] != 3 || results["duplicate"] != 1 {
		t.Errorf("echo audit results %v", results)
	}
}

func TestStaleEventIsSkipped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{seed: []string{"ransomware-updated.json"}})
	r := e.start("w1", rules.Static{RS: loadRules(t, "../../rules")}, e.graphClient(nil), nil)
	e.publishFixture("ransomware-updated.json") // newer first
	e.publishFixture("ransomware-created.json") // then the older version
	e.waitFor(10*time.Second, "settled", func() bool { return e.settled() })
	if n := testutil.ToFloat64(r.metrics.Events.WithLabelValues("skipped_stale")); n != 1 {
		t.Errorf("%v stale events skipped, want 1", n)
	}
	for _, a := range e.audits() {
		if a.EventID == "b6f7c0de-0001" {
			t.Errorf("the stale event acted: %+v", a)
		}
	}
	// The same version again (a republish) is skipped too.
	e.publish(mustFixture("ransomware-updated.json"), tenant, "4211", "republished")
	e.waitFor(10*time.Second, "republish skipped", func() bool {
		return testutil.ToFloat64(r.metrics.Events.WithLabelValues("skipped_stale")) == 2
	})
}

func TestMalformedEventsReachTheDLQ(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rs := rulesFrom(t, `
rules:
  - {id: broken, order: 1, when: 'incident.severity == "high" && previous.severity == "low"', actions: [{tag: x}]}
  - {id: fine, order: 2, when: 'incident.severity == "high"', actions: [{tag: ok}]}
`)
	r := e.start("w1", rules.Static{RS: rs}, e.graphClient(nil), nil)
	e.publish([]byte("this is not json"), "t9", "9999", "bad-1")
	e.publish([]byte(`{"specversion":"1.0","id":"e-sev","type":"com.microsoft.graph.security.incident.created","data":{"id":"9998","severity":5}}`), "t9", "9998", "bad-2")
	e.publishFixture("ransomware-created.json") // a rule run-time error
	e.waitFor(20*time.Second, "three dead letters", func() bool { return len(e.streamMsgs(e.topo.DLQStream)) == 3 && e.settled() })

	dl := e.streamMsgs(e.topo.DLQStream)
	byReason := map[string]int{}
	for _, m := range dl {
		byReason[m.Header.Get(consume.HeaderReason)]++
	}
	if byReason["malformed"] != 2 || byReason["rule_error"] != 1 {
		t.Fatalf("dead letters by reason %v", byReason)
	}
	for _, m := range dl {
		switch m.Header.Get(consume.HeaderReason) {
		case "malformed":
			if m.Subject != "graphsoar.dlq.unknown" || m.Header.Get(consume.HeaderDeliveries) != "1" || m.Header.Get(consume.HeaderError) == "" {
				t.Errorf("malformed dead letter %s %v", m.Subject, m.Header)
			}
			if string(m.Data) == "this is not json" && !strings.Contains(m.Header.Get(consume.HeaderError), "not a JSON object") {
				t.Errorf("reason text %q", m.Header.Get(consume.HeaderError))
			}
			if strings.Contains(string(m.Data), "e-sev") && !strings.Contains(m.Header.Get(consume.HeaderError), "data.severity") {
				t.Errorf("the error must name the field: %q", m.Header.Get(consume.HeaderError))
			}
		case "rule_error":
			if m.Subject != "graphsoar.dlq."+tenant+".4211" || !strings.Contains(m.Header.Get(consume.HeaderError), "rule broken") {
				t.Errorf("rule error dead letter %s %v", m.Subject, m.Header)
			}
			if string(m.Data) != string(mustFixture("ransomware-created.json")) {
				t.Error("the dead letter must carry the original event")
			}
		}
	}
	// The other rule still acted.
	if inc, _ := e.fake.Incident("4211"); !strings.Contains(toJSON(inc["customTags"]), "ok") {
		t.Errorf("the rule without error did not act: %v", inc["customTags"])
	}
	if n := testutil.ToFloat64(r.metrics.DeadLetters.WithLabelValues("malformed")); n != 2 {
		t.Errorf("dead letter metric %v", n)
	}
}
