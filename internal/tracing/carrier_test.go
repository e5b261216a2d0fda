package tracing_test

import (
	"context"
	"slices"
	"testing"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

func TestHeaderFindsW3CNamesInAnyCase(t *testing.T) {
	t.Parallel()
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, name := range []string{"traceparent", "Traceparent", "TRACEPARENT"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := nats.Header{name: {tp}, "Nats-Msg-Id": {"x"}}
			if got := tracing.Header(h).Get("traceparent"); got != tp {
				t.Fatalf("Get = %q", got)
			}
			sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), h))
			if !sc.IsValid() || !sc.IsRemote() || !sc.IsSampled() || sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
				sc.SpanID().String() != "b7ad6b7169203331" {
				t.Fatalf("extracted %+v", sc)
			}
			tracing.Header(h).Set("traceparent", "new")
			if len(h) != 2 || h.Get("traceparent") != "new" {
				t.Fatalf("after Set: %v", h)
			}
			keys := tracing.Header(h).Keys()
			slices.Sort(keys)
			if !slices.Equal(keys, []string{"Nats-Msg-Id", "traceparent"}) {
				t.Fatalf("Keys = %v", keys)
			}
		})
	}
}

func TestExtractIgnoresMissingOrMalformedContext(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]nats.Header{
		"nil":       nil,
		"none":      {"Nats-Msg-Id": {"x"}},
		"malformed": {"traceparent": {"00-xyz-b7ad6b7169203331-01"}},
		"zero ids":  {"traceparent": {"00-00000000000000000000000000000000-0000000000000000-01"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if sc := trace.SpanContextFromContext(tracing.Extract(context.Background(), h)); sc.IsValid() {
				t.Fatalf("extracted %+v", sc)
			}
		})
	}
}

func TestInjectCarriesTheSpanToTheConsumer(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "publish")
	defer span.End()

	m := &nats.Msg{Subject: "s"} // no header map yet
	tracing.Inject(ctx, m)
	if m.Header.Get("traceparent") == "" {
		t.Fatalf("no traceparent in %v", m.Header)
	}
	got := trace.SpanContextFromContext(tracing.Extract(context.Background(), m.Header))
	want := span.SpanContext()
	if got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || got.TraceFlags() != want.TraceFlags() {
		t.Fatalf("extracted %v/%v, injected %v/%v", got.TraceID(), got.SpanID(), want.TraceID(), want.SpanID())
	}

	// Without a span (tracing off), the headers are left alone.
	plain := nats.NewMsg("s")
	tracing.Inject(context.Background(), plain)
	if len(plain.Header) != 0 {
		t.Fatalf("headers %v", plain.Header)
	}
}
