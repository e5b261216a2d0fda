// Package tracing is graphsoar's OpenTelemetry plumbing: the W3C trace
// context carried in NATS message headers (Extract, Inject), a RoundTripper
// that makes one client span per HTTP request (Transport), and the process's
// TracerProvider, which exports over OTLP only when an endpoint is configured
// (Setup).
//
// Packages take a trace.TracerProvider in their options (nil: a no-op one);
// nothing here reads or sets otel's global provider, so tests with their own
// recorders run in parallel.
package tracing

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope prefix of graphsoar's tracers; each
// package names its tracer Scope + "/internal/<package>".
const Scope = "github.com/graphsoar/graphsoar"

// OrNoop returns tp, or a no-op provider when tp is nil.
func OrNoop(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

// Extract returns ctx with the remote span context of a message's
// traceparent (and tracestate) header, when it has a valid one; ctx
// otherwise.
func Extract(ctx context.Context, h nats.Header) context.Context {
	return propagation.TraceContext{}.Extract(ctx, Header(h))
}

// Inject writes the span context of ctx into a message's headers as
// traceparent and tracestate (nothing when ctx has no valid span context).
func Inject(ctx context.Context, m *nats.Msg) {
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	propagation.TraceContext{}.Inject(ctx, Header(m.Header))
}
