package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"
	collector "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSetupWithoutAnEndpointBuildsNoExporter(t *testing.T) {
	t.Parallel()
	for name, vars := range map[string]map[string]string{
		"nothing set":   {},
		"other OTEL":    {"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b"},
		"sdk disabled":  {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
		"exporter none": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces", "OTEL_TRACES_EXPORTER": "none"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := tracing.Setup(context.Background(), env(vars), "graphsoar")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := p.TracerProvider.(noop.TracerProvider); !ok || p.Endpoint != "" {
				t.Fatalf("provider %T endpoint %q, want the no-op provider and none", p.TracerProvider, p.Endpoint)
			}
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSetupRefusesAMalformedEndpoint(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"collector:4318", "ftp://collector", "http://"} {
		p, err := tracing.Setup(context.Background(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": raw}), "graphsoar")
		if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT") {
			t.Errorf("%q: err %v", raw, err)
		}
		if _, ok := p.TracerProvider.(noop.TracerProvider); !ok {
			t.Errorf("%q: provider %T, want the no-op one", raw, p.TracerProvider)
		}
	}
}

// TestSetupExportsOverOTLP runs a collector's OTLP/HTTP endpoint and reads
// what the provider sends it at shutdown.
func TestSetupExportsOverOTLP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vars func(url string) map[string]string
		path string
	}{
		{"base endpoint", func(u string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": u + "/otlp/"}
		}, "/otlp/v1/traces"},
		{"traces endpoint", func(u string) map[string]string {
			return map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": u + "/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://unused:1"}
		}, "/custom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []*collector.ExportTraceServiceRequest
			var paths []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				req := &collector.ExportTraceServiceRequest{}
				if err := proto.Unmarshal(body, req); err != nil {
					t.Errorf("body: %v", err)
				}
				mu.Lock()
				got, paths = append(got, req), append(paths, r.URL.Path)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-protobuf")
			}))
			t.Cleanup(srv.Close)

			p, err := tracing.Setup(context.Background(), env(tc.vars(srv.URL)), "graphsoar-test")
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := p.TracerProvider.(*sdktrace.TracerProvider); !ok || p.Endpoint != srv.URL+tc.path {
				t.Fatalf("provider %T endpoint %q", p.TracerProvider, p.Endpoint)
			}
			_, span := p.Tracer("test").Start(context.Background(), "consume INCIDENTS")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}

			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 || paths[0] != tc.path {
				t.Fatalf("%d exports to %v, want 1 to %s", len(got), paths, tc.path)
			}
			rs := got[0].GetResourceSpans()
			if len(rs) != 1 || len(rs[0].GetScopeSpans()) != 1 || len(rs[0].GetScopeSpans()[0].GetSpans()) != 1 ||
				rs[0].GetScopeSpans()[0].GetSpans()[0].GetName() != "consume INCIDENTS" {
				t.Fatalf("exported %v", got[0])
			}
			service := ""
			for _, kv := range rs[0].GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			if service != "graphsoar-test" {
				t.Errorf("service.name %q", service)
			}
		})
	}
}
