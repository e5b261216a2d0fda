package main

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

// traceFlushTimeout bounds the export of the spans left at exit.
const traceFlushTimeout = 5 * time.Second

// startTracing sets sv.tracer, the TracerProvider of run, poll and demo:
// spans are exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set in the process environment (see
// tracing.Setup), and none are made otherwise. The func it returns flushes
// the spans not yet exported, waiting at most traceFlushTimeout; defer it.
// A malformed endpoint is logged and leaves tracing off.
func (sv *services) startTracing(ctx context.Context, service string) (stop func()) {
	p, err := tracing.Setup(ctx, os.Getenv, service)
	if err != nil {
		sv.log.Warn("traces not exported", "err", err)
	}
	sv.tracer = p.TracerProvider
	if p.Endpoint == "" {
		return func() {}
	}
	// The exporter reports failures through otel's handler: into our log.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { sv.log.Warn("trace export", "err", err) }))
	sv.log.Info("exporting traces over OTLP", "endpoint", p.Endpoint)
	return func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
		defer cancel()
		if err := p.Shutdown(fctx); err != nil {
			sv.log.Warn("traces not all exported at exit", "err", err)
		}
	}
}
