package tracing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

func TestTransportMakesOneClientSpanPerRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("request-id", "req-"+r.URL.Path[1:])
		switch r.URL.Path {
		case "/fail":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(srv.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	for _, tc := range []struct {
		name, url, op string
		wantName      string
		wantStatus    int64 // 0: no response
		wantError     bool
	}{
		{name: "ok", url: srv.URL + "/ok?token=secret", op: "get thing", wantName: "get thing", wantStatus: 200},
		{name: "error status", url: srv.URL + "/fail?token=secret", wantName: "HTTP GET", wantStatus: 503, wantError: true},
		{name: "no connection", url: down.URL + "/x?token=secret", op: "get thing", wantName: "get thing", wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			client := &http.Client{Transport: tracing.Transport(http.DefaultTransport, tp)}
			ctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
			if tc.op != "" {
				ctx = tracing.WithRequest(ctx, tc.op, attribute.Int("graphsoar.attempt", 2))
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.url, nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			parent.End()

			spans := rec.Ended()
			if len(spans) != 2 {
				t.Fatalf("%d spans, want the request's and the parent", len(spans))
			}
			s := spans[0]
			if s.Name() != tc.wantName || s.SpanKind() != trace.SpanKindClient || s.Parent().SpanID() != parent.SpanContext().SpanID() {
				t.Fatalf("span %q kind %v parent %v", s.Name(), s.SpanKind(), s.Parent().SpanID())
			}
			a := map[attribute.Key]attribute.Value{}
			for _, kv := range s.Attributes() {
				a[kv.Key] = kv.Value
				if strings.Contains(kv.Value.Emit(), "secret") {
					t.Errorf("attribute %s carries the query: %s", kv.Key, kv.Value.Emit())
				}
			}
			if strings.Contains(s.Status().Description, "secret") {
				t.Errorf("status carries the query: %s", s.Status().Description)
			}
			if a["http.request.method"].AsString() != "GET" || a["url.scheme"].AsString() != "http" ||
				a["server.address"].AsString() != "127.0.0.1" || a["server.port"].AsInt64() == 0 {
				t.Errorf("request attributes %v", a)
			}
			if got := a["http.response.status_code"].AsInt64(); got != tc.wantStatus {
				t.Errorf("status code %d, want %d", got, tc.wantStatus)
			}
			if tc.wantStatus != 0 && a["http.response.header.request-id"].AsString() == "" {
				t.Errorf("no request id in %v", a)
			}
			if (s.Status().Code == codes.Error) != tc.wantError || (tc.wantError && a["error.type"].AsString() == "") {
				t.Errorf("status %+v error.type %q, want error %v", s.Status(), a["error.type"].AsString(), tc.wantError)
			}
			if tc.op != "" && a["graphsoar.attempt"].AsInt64() != 2 {
				t.Errorf("WithRequest attributes missing: %v", a)
			}
		})
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportWithoutTracingPassesThrough: with no tracer provider, the
// no-op one, or a provider that samples nothing, the transport hands next
// the caller's request itself, its headers untouched though its context
// carries a sampled remote parent, gives back next's response or error as
// they are, and records no span.
func TestTransportWithoutTracingPassesThrough(t *testing.T) {
	t.Parallel()
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
		TraceFlags: trace.FlagsSampled, Remote: true})
	failure := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		tp   func(*tracetest.SpanRecorder) trace.TracerProvider
	}{
		{"nil", func(*tracetest.SpanRecorder) trace.TracerProvider { return nil }},
		{"noop", func(*tracetest.SpanRecorder) trace.TracerProvider { return noop.NewTracerProvider() }},
		{"not sampled", func(rec *tracetest.SpanRecorder) trace.TracerProvider {
			return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithSpanProcessor(rec))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tracetest.NewSpanRecorder()
			for _, fail := range []bool{false, true} {
				want := &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody}
				var got *http.Request
				tr := tracing.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
					got = r
					if fail {
						return nil, failure
					}
					return want, nil
				}), tc.tp(rec))
				ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://graph.invalid/incidents/1", nil)
				req.Header.Set("Authorization", "Bearer t")
				resp, err := tr.RoundTrip(req)
				if got != req {
					t.Fatalf("fail %v: next was not given the caller's request", fail)
				}
				if len(req.Header) != 1 || req.Header.Get("Authorization") != "Bearer t" {
					t.Errorf("fail %v: headers changed: %v", fail, req.Header)
				}
				switch {
				case fail && (resp != nil || !errors.Is(err, failure)):
					t.Errorf("next failed with %v; the transport returned %v, %v", failure, resp, err)
				case !fail && (resp != want || err != nil):
					t.Errorf("next answered %p; the transport returned %p, %v", want, resp, err)
				}
			}
			if n := len(rec.Ended()); n != 0 {
				t.Errorf("%d spans recorded", n)
			}
		})
	}
}
