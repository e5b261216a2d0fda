package consume

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

// Span attributes of a delivery, beside the messaging ones of OpenTelemetry's
// conventions.
const (
	attrTenant    = attribute.Key("graphsoar.tenant")
	attrIncident  = attribute.Key("graphsoar.incident")
	attrEventID   = attribute.Key("graphsoar.event.id")
	attrPartition = attribute.Key("graphsoar.partition")
	attrStreamSeq = attribute.Key("graphsoar.stream.seq")
	attrDelivery  = attribute.Key("graphsoar.delivery")
	attrVerdict   = attribute.Key("graphsoar.verdict")
	attrOutcome   = attribute.Key("graphsoar.outcome")
	attrReason    = attribute.Key("graphsoar.reason")
)

// startSpan starts the span of one delivery's handling, "consume <stream>",
// and returns the context the handler runs in. When the message carries W3C
// trace context (traceparent, tracestate), the span is the child of the
// producer's span: one trace from the producer to the Graph writes.
func (c *Consumer) startSpan(ctx context.Context, d *Delivery) (context.Context, trace.Span) {
	ctx = tracing.Extract(ctx, d.Msg.Headers())
	ctx, span := c.tracer.Start(ctx, "consume "+c.topo.Stream, trace.WithSpanKind(trace.SpanKindConsumer))
	if !span.IsRecording() {
		return ctx, span
	}
	span.SetAttributes(
		semconv.MessagingSystemKey.String("nats"),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingDestinationName(d.Subject),
		semconv.MessagingConsumerGroupName(c.topo.ConsumerName(d.Partition)),
		attrPartition.String(d.Partition),
		attrStreamSeq.Int64(int64(d.Seq())),
		attrDelivery.Int64(int64(d.Meta.NumDelivered)),
	)
	if id := d.Msg.Headers().Get(nats.MsgIdHdr); id != "" {
		span.SetAttributes(semconv.MessagingMessageID(id))
	}
	if d.Tenant != "" {
		span.SetAttributes(attrTenant.String(d.Tenant), attrIncident.String(d.Incident))
	}
	return ctx, span
}

// endSpan records what the handler read of the event and what became of
// it, and ends the span: a dead letter or a retry is an error.
func endSpan(span trace.Span, d *Delivery, r Result) {
	defer span.End()
	if !span.IsRecording() {
		return
	}
	if d.DLQTenant != "" {
		span.SetAttributes(attrTenant.String(d.DLQTenant), attrIncident.String(d.DLQIncident))
	}
	if d.EventID != "" {
		span.SetAttributes(attrEventID.String(d.EventID))
	}
	span.SetAttributes(attrVerdict.String(r.Verdict.String()), attrOutcome.String(r.outcome()))
	if r.Reason != "" {
		span.SetAttributes(attrReason.String(r.Reason))
	}
	switch r.Verdict {
	case DeadLetter, Retry:
		msg := r.Verdict.String() + ": " + r.Reason
		if r.Err != nil {
			msg += ": " + r.Err.Error()
		}
		span.SetStatus(codes.Error, truncate(msg, 1000))
	}
}
