package poller

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

// startPass starts the span of a pass over every tenant.
func (p *Poller) startPass(ctx context.Context) (context.Context, trace.Span) {
	return p.tracer.Start(ctx, "poll", trace.WithAttributes(attribute.Int("graphsoar.tenants", len(p.o.Tenants))))
}

// tracedPollTenant is pollTenant in the span "poll tenant": the tenant, the
// events published, and whether another producer held the tenant.
func (p *Poller) tracedPollTenant(ctx context.Context, tenant string) (int, error) {
	ctx, span := p.tracer.Start(ctx, "poll tenant", trace.WithAttributes(attribute.String("graphsoar.tenant", tenant)))
	n, err := p.pollTenant(ctx, tenant)
	span.SetAttributes(attribute.Int("graphsoar.published", n))
	failed := err
	var leased *leasedError
	if errors.As(err, &leased) || errors.Is(err, errLeased) {
		span.SetAttributes(attribute.Bool("graphsoar.leased_elsewhere", true))
		failed = nil // skipped, not failed
	}
	endSpan(span, failed)
	return n, err
}

// startPublish starts the producer span of one event and writes its trace
// context into the event's headers (traceparent, tracestate), so that the
// worker's handling of the event continues this trace. With no tracer the
// headers are left alone.
func (p *Poller) startPublish(ctx context.Context, tenant, id string, m *nats.Msg) trace.Span {
	ctx, span := p.tracer.Start(ctx, "publish "+p.o.Subject, trace.WithSpanKind(trace.SpanKindProducer))
	if span.IsRecording() {
		span.SetAttributes(
			semconv.MessagingSystemKey.String("nats"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingDestinationName(m.Subject),
			semconv.MessagingMessageID(m.Header.Get(nats.MsgIdHdr)),
			attribute.String("graphsoar.tenant", tenant),
			attribute.String("graphsoar.incident", id),
		)
	}
	tracing.Inject(ctx, m)
	return span
}

// endSpan ends a span, with an error status for a failure (not for the
// end of the process).
func endSpan(span trace.Span, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// endSpans ends spans with one outcome.
func endSpans(spans []trace.Span, err error) {
	for _, s := range spans {
		endSpan(s, err)
	}
}
