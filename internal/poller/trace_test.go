package poller_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/poller"
	"github.com/graphsoar/graphsoar/internal/tracing"
)

// rawEvents returns the messages in the incident stream, headers included.
func (e *env) rawEvents() []*jetstream.RawStreamMsg {
	e.t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, e.topo.Stream)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out = append(out, m)
		}
	}
	return out
}

var traceparent = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

func TestPublishedEventsCarryTheirPublishSpan(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 3)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	client, err := graph.New(graph.Config{Root: e.root, Default: &graph.Credential{Auth: graph.AuthNone},
		IncidentRate: graph.RateLimit{PerMinute: -1}, BackoffBase: 10 * time.Millisecond}, graph.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	p := e.poller(func(o *poller.Options) { o.Tracer, o.Graph = tp, client })
	if err := p.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var pass sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		byID[s.SpanContext().SpanID()] = s
		if s.Name() == "poll" {
			pass = s
		}
	}
	if pass == nil || pass.Parent().IsValid() {
		t.Fatalf("no root span of the pass in %d spans", len(byID))
	}
	parentName := func(s sdktrace.ReadOnlySpan) string {
		if p, ok := byID[s.Parent().SpanID()]; ok {
			return p.Name()
		}
		return ""
	}

	msgs := e.rawEvents()
	if len(msgs) != 3 {
		t.Fatalf("%d events, want 3", len(msgs))
	}
	for _, m := range msgs {
		tp := m.Header.Get("traceparent")
		if !traceparent.MatchString(tp) {
			t.Fatalf("event %s: traceparent %q", m.Subject, tp)
		}
		sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), m.Header))
		span, ok := byID[sc.SpanID()]
		if !ok || sc.TraceID() != pass.SpanContext().TraceID() {
			t.Fatalf("event %s: traceparent %s names no span of the pass's trace", m.Subject, tp)
		}
		if span.Name() != "publish security.incidents" || span.SpanKind() != trace.SpanKindProducer || parentName(span) != "poll tenant" {
			t.Errorf("event %s: span %q kind %v under %q", m.Subject, span.Name(), span.SpanKind(), parentName(span))
		}
		attrs := attribute.NewSet(span.Attributes()...)
		// The stream stored it under a partition subject.
		want := "security.incidents." + tenant + "." + m.Subject[strings.LastIndex(m.Subject, ".")+1:]
		if v, _ := attrs.Value("messaging.destination.name"); v.AsString() != want {
			t.Errorf("span of %s names destination %q, want %q", m.Subject, v.AsString(), want)
		}
		if v, _ := attrs.Value("messaging.message.id"); v.AsString() != m.Header.Get("Nats-Msg-Id") {
			t.Errorf("span of %s names message %q", m.Subject, v.AsString())
		}
	}
	tenantSpans, lists := 0, 0
	for _, s := range byID {
		switch {
		case s.Name() == "poll tenant" && parentName(s) == "poll":
			tenantSpans++
			set := attribute.NewSet(s.Attributes()...)
			if v, _ := set.Value("graphsoar.published"); v.AsInt64() != 3 {
				t.Errorf("poll tenant published %d", v.AsInt64())
			}
		case s.Name() == "list incidents" && parentName(s) == "poll tenant":
			lists++
		}
	}
	if tenantSpans != 1 || lists != 1 {
		t.Errorf("%d tenant spans under the pass, %d list requests under it; want 1 and 1", tenantSpans, lists)
	}
}

func TestWithoutATracerEventsCarryNoTraceContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.seed(tenant, 2)
	if err := e.poller(nil).Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	msgs := e.rawEvents()
	if len(msgs) != 2 {
		t.Fatalf("%d events, want 2", len(msgs))
	}
	for _, m := range msgs {
		if v := m.Header.Get("traceparent"); v != "" {
			t.Errorf("event %s: traceparent %q without a tracer", m.Subject, v)
		}
	}
}
