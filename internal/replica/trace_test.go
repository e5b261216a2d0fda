package replica_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// TestTraceFollowsAnEventFromItsProducerToGraph publishes an event whose
// traceparent names a producer's span, lets a rule PATCH the incident (Graph
// answers the first PATCH 503) and comment, and reads the span tree: the
// consume span continues the producer's trace, and the rule evaluation and
// every Graph request are below it, with their methods, paths, statuses and
// attempts.
func TestTraceFollowsAnEventFromItsProducerToGraph(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	rs := rulesFrom(t, `
rules:
  - id: trace-red-team
    order: 1
    when: 'any(devices(incident), {.rbacGroupName == "RedTeam"})'
    actions:
      - tag: traced
      - comment: "Seen by {{ rule.id }}"
`)
	client, err := graph.New(graph.Config{Root: e.root, Default: &graph.Credential{Auth: graph.AuthNone},
		BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond}, graph.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	e.fake.FailNext(graphfake.Fault{Method: "PATCH", PathPrefix: "/v1.0/security/incidents/4212", Status: 503})
	e.start("w1", rules.Static{RS: rs}, client, func(o *replica.Options) { o.Tracer = tp })

	// The producer: its own span, its context in the W3C header as any
	// OpenTelemetry SDK writes it.
	_, producer := tp.Tracer("producer").Start(context.Background(), "produce", trace.WithSpanKind(trace.SpanKindProducer))
	psc := producer.SpanContext()
	m := nats.NewMsg("security.incidents." + tenant + ".4212")
	m.Data = fixtures.Read("redteam-created.json")
	m.Header.Set("traceparent", fmt.Sprintf("00-%s-%s-01", psc.TraceID(), psc.SpanID()))
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	producer.End()

	consumeName := "consume " + e.topo.Stream
	var consume sdktrace.ReadOnlySpan
	e.waitFor(15*time.Second, "the consume span", func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == consumeName {
				consume = s
				return true
			}
		}
		return false
	})
	if c := e.comments("4212"); len(c) != 1 || c[0] != "Seen by trace-red-team" {
		t.Fatalf("comments %q", c)
	}

	// The consume span is the child of the producer's span.
	csc := consume.SpanContext()
	if csc.TraceID() != psc.TraceID() || consume.Parent().SpanID() != psc.SpanID() || !consume.Parent().IsRemote() {
		t.Fatalf("consume span in trace %s under %s (remote %v), want trace %s under the producer's span %s",
			csc.TraceID(), consume.Parent().SpanID(), consume.Parent().IsRemote(), psc.TraceID(), psc.SpanID())
	}
	if consume.SpanKind() != trace.SpanKindConsumer || consume.Status().Code == codes.Error {
		t.Errorf("consume span kind %v status %+v", consume.SpanKind(), consume.Status())
	}
	wantAttrs(t, consume, map[attribute.Key]any{
		"graphsoar.tenant": tenant, "graphsoar.incident": "4212", "graphsoar.event.id": "b6f7c0de-0002",
		"graphsoar.stream.seq": int64(1), "graphsoar.delivery": int64(1), "graphsoar.verdict": "ack", "graphsoar.outcome": "acked",
		"messaging.system": "nats", "messaging.destination.name": "security.incidents." + tenant + ".4212",
	})

	// Everything else the worker did for the event is below it.
	spans := descendants(rec.Ended(), csc.SpanID())
	var names []string
	for _, s := range spans {
		names = append(names, s.Name())
		if s.SpanContext().TraceID() != psc.TraceID() {
			t.Errorf("span %s in trace %s, want %s", s.Name(), s.SpanContext().TraceID(), psc.TraceID())
		}
	}
	evaluate := only(t, spans, "evaluate")
	if evaluate.Parent().SpanID() != csc.SpanID() {
		t.Errorf("evaluate is not a child of the consume span")
	}
	wantAttrs(t, evaluate, map[attribute.Key]any{"graphsoar.matched_rules": []string{"trace-red-team"}})

	// The refresh, the PATCH that failed, its retry, the comment: one span
	// each, with the request and Graph's answer.
	type req struct {
		name, method, path string
		status, attempt    int64
		failed             bool
	}
	var got []req
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindClient {
			continue
		}
		a := attrs(s)
		got = append(got, req{s.Name(), a["http.request.method"].AsString(), a["url.path"].AsString(),
			a["http.response.status_code"].AsInt64(), a["graphsoar.attempt"].AsInt64(), s.Status().Code == codes.Error})
		if a["graphsoar.tenant"].AsString() != tenant || a["server.address"].AsString() != "127.0.0.1" {
			t.Errorf("span %s: tenant %q server %q", s.Name(), a["graphsoar.tenant"].AsString(), a["server.address"].AsString())
		}
	}
	slices.SortFunc(got, func(a, b req) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.attempt, b.attempt))
	})
	want := []req{
		{"comment", "POST", "/v1.0/security/incidents/4212/comments", 200, 1, false},
		{"get incident", "GET", "/v1.0/security/incidents/4212", 200, 1, false},
		{"patch incident", "PATCH", "/v1.0/security/incidents/4212", 503, 1, true},
		{"patch incident", "PATCH", "/v1.0/security/incidents/4212", 200, 2, false},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Graph request spans (of %v):\n got %+v\nwant %+v", names, got, want)
	}
}

// descendants are the spans below the span id, at any depth.
func descendants(all []sdktrace.ReadOnlySpan, root trace.SpanID) []sdktrace.ReadOnlySpan {
	in := map[trace.SpanID]bool{root: true}
	var out []sdktrace.ReadOnlySpan
	for grew := true; grew; {
		grew = false
		for _, s := range all {
			if id := s.SpanContext().SpanID(); !in[id] && in[s.Parent().SpanID()] {
				in[id], grew = true, true
				out = append(out, s)
			}
		}
	}
	return out
}

// only returns the one span of a name.
func only(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(found), name)
	}
	return found[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

// wantAttrs checks attributes of a span (string, int64 or []string values).
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[attribute.Key]any) {
	t.Helper()
	got := attrs(s)
	for k, w := range want {
		v, ok := got[k]
		switch {
		case !ok:
			t.Errorf("span %s: no attribute %s", s.Name(), k)
		case fmt.Sprint(v.AsInterface()) != fmt.Sprint(w):
			t.Errorf("span %s: %s = %v, want %v", s.Name(), k, v.AsInterface(), w)
		}
	}
}
