package tracing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// requestKey carries what a caller adds to the spans of its requests.
type requestKey struct{}

type request struct {
	name  string
	attrs []attribute.KeyValue
}

// WithRequest names the spans of the HTTP requests made with ctx (the
// operation: "patch incident") and adds attrs to them (the tenant, the
// attempt). The transport below a client that builds the request itself
// (an SDK) learns them this way.
func WithRequest(ctx context.Context, name string, attrs ...attribute.KeyValue) context.Context {
	return context.WithValue(ctx, requestKey{}, request{name: name, attrs: attrs})
}

// Transport returns a RoundTripper that sends each request with next inside
// a client span, the child of the request context's span: its method,
// scheme, host, port and URL path (never the query, which may carry
// values a trace should not), the response's status code and request id,
// and what WithRequest put in the context. A transport error or a status of
// 400 or more sets the span's status to Error. The span ends when next
// returns; the body is read after it.
func Transport(next http.RoundTripper, tp trace.TracerProvider) http.RoundTripper {
	return &transport{next: next, tracer: OrNoop(tp).Tracer(Scope + "/internal/tracing")}
}

type transport struct {
	next   http.RoundTripper
	tracer trace.Tracer
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, _ := req.Context().Value(requestKey{}).(request)
	name := r.name
	if name == "" {
		name = "HTTP " + req.Method
	}
	_, span := t.tracer.Start(req.Context(), name, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if !span.IsRecording() {
		return t.next.RoundTrip(req) // the no-op provider, or not sampled
	}
	span.SetAttributes(requestAttributes(req)...)
	span.SetAttributes(r.attrs...)
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(fmt.Sprintf("%T", cause(err))))
		span.SetStatus(codes.Error, cause(err).Error())
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if id := resp.Header.Get("request-id"); id != "" {
		span.SetAttributes(attribute.String("http.response.header.request-id", id))
	}
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(resp.StatusCode))
	}
	return resp, nil
}

// CloseIdleConnections closes the idle connections of next, when it keeps
// any (http.Client.CloseIdleConnections reaches them through here).
func (t *transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// requestAttributes describes a request without its query.
func requestAttributes(req *http.Request) []attribute.KeyValue {
	u := req.URL
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(req.Method),
		semconv.URLScheme(u.Scheme),
		semconv.URLPath(u.EscapedPath()),
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port = u.Host, ""
	}
	attrs = append(attrs, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// cause is the error under a *url.Error, whose text would repeat the URL
// with its query.
func cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
