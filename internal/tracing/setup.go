package tracing

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Provider is a process's TracerProvider and how to stop it.
type Provider struct {
	trace.TracerProvider
	// Endpoint is where spans are exported, its password redacted ("" when
	// they are not exported).
	Endpoint string
	// Shutdown flushes the spans not yet exported and stops the exporter,
	// within ctx's deadline. It does nothing for the no-op provider.
	Shutdown func(ctx context.Context) error
}

// Setup builds the TracerProvider of a process from the standard
// OpenTelemetry variables (read with getenv):
//
//   - Without OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (a full URL, such as
//     http://collector:4318/v1/traces) or OTEL_EXPORTER_OTLP_ENDPOINT (a
//     base URL, to which /v1/traces is added), or with OTEL_SDK_DISABLED=true
//     or OTEL_TRACES_EXPORTER=none, it returns a no-op provider: no
//     exporter, nothing recorded, next to no cost.
//   - Otherwise spans are batched and exported over OTLP/HTTP (protobuf) to
//     that URL. The exporter reads its other settings from the process
//     environment (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION,
//     _CERTIFICATE, ...), the SDK its sampler (OTEL_TRACES_SAMPLER, default
//     parent-based always-on) and batching (OTEL_BSP_*), and the resource
//     OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, over service.name
//     service.
//
// The error is a malformed endpoint; building an exporter does not connect.
func Setup(ctx context.Context, getenv func(string) string, service string) (Provider, error) {
	off := Provider{TracerProvider: noop.NewTracerProvider(), Shutdown: func(context.Context) error { return nil }}
	endpoint, err := endpointURL(getenv)
	if err != nil || endpoint == nil ||
		strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") ||
		strings.EqualFold(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")), "none") {
		return off, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint.String()))
	if err != nil {
		return off, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(service)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv())
	if err != nil && res == nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME (a
		// partly malformed one keeps what could be read).
		res = resource.NewSchemaless(semconv.ServiceName(service))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return Provider{TracerProvider: tp, Endpoint: endpoint.Redacted(), Shutdown: tp.Shutdown}, nil
}

// endpointURL is the URL spans are posted to, nil when none is configured.
// Its error names the variable, not its value (which may hold a password).
func endpointURL(getenv func(string) string) (*url.URL, error) {
	name, raw := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
	full := raw != ""
	if !full {
		name, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	}
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: not an http or https URL", name)
	}
	if !full {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
	}
	return u, nil
}
