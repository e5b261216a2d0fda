package graph

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/tracing"
)

// record is what the transport saw of one attempt; the operation reads it to
// classify the outcome and to report Graph's request id.
type record struct {
	sent       bool
	status     int
	requestID  string
	retryAfter string
	// errBody is the start of an error response's body, for Graph's code and
	// message when the SDK cannot read them.
	errBody []byte
}

// maxErrBody bounds the error body kept by the recorder.
const maxErrBody = 64 << 10

// maxResponseBody bounds a response body read by the client (a list of
// 10,000 indicators is a few MB).
const maxResponseBody = 32 << 20

type recordKey struct{}

func withRecord(ctx context.Context, r *record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// recorder is the outermost middleware: it notes that the request left and
// what came back.
type recorder struct {
	// userAgent names this client first in User-Agent (the SDK appends
	// its own product).
	userAgent string
}

func (r recorder) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if r.userAgent != "" {
		req.Header.Set("User-Agent", r.userAgent)
	}
	return recordAttempt(req, func(req *http.Request) (*http.Response, error) { return p.Next(req, i) })
}

// recordAttempt sends req with send and notes in the request's record that
// it left and what came back: status, request id, Retry-After, and the start
// of an error response's body (which stays readable for the caller). The
// response body is read through a limit of maxResponseBody bytes (see
// limitBody).
func recordAttempt(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	rec, _ := req.Context().Value(recordKey{}).(*record)
	if rec != nil {
		rec.sent = true
	}
	resp, err := send(req)
	if resp != nil && resp.Body != nil {
		resp.Body = limitBody(resp.Body, resp.ContentLength, maxResponseBody)
	}
	if rec != nil && resp != nil {
		rec.status = resp.StatusCode
		rec.requestID = resp.Header.Get("request-id")
		rec.retryAfter = resp.Header.Get("Retry-After")
		if resp.StatusCode >= 400 && resp.Body != nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
			rest := resp.Body
			rec.errBody = b
			resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), rest), rest}
			if rerr != nil {
				rec.errBody = nil
			}
		}
	}
	return resp, err
}

// recordingTransport records every attempt (see recordAttempt) of a plain
// HTTP client: the Defender API, which is not Graph and has no SDK.
type recordingTransport struct{ next http.RoundTripper }

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return recordAttempt(req, t.next.RoundTrip)
}

// middleware is the chain of every request: the recorder, then the SDK's
// defaults without its RetryHandler and with request compression off.
func middleware(userAgent string) []khttp.Middleware {
	opts := msgraphcore.GraphClientOptions{GraphServiceVersion: "v1.0", GraphServiceLibraryVersion: "1.89.0"}
	chain := []khttp.Middleware{recorder{userAgent: userAgent}}
	for _, m := range msgraphcore.GetDefaultMiddlewaresWithOptions(&opts) {
		switch m.(type) {
		case *khttp.RetryHandler:
			continue
		case *khttp.CompressionHandler:
			m = khttp.NewCompressionHandlerWithOptions(khttp.NewCompressionOptions(false))
		}
		chain = append(chain, m)
	}
	return chain
}

// newHTTPClient builds the HTTP client of every tenant's adapter: the SDK's
// default middleware (telemetry, redirects, user agent, ...) without kiota's
// RetryHandler, because this package retries itself, with its own
// classification and Retry-After handling, and the two must not multiply; and
// with request-body compression off: graphsoar's bodies are a few hundred
// bytes, and the handler allocated a new gzip writer (about 800 KB) for each.
// Responses are still decompressed by the transport. The transport keeps
// enough idle connections for a concurrent worker, and traces each request.
func newHTTPClient(timeout time.Duration, userAgent string, tp trace.TracerProvider) *http.Client {
	return &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(newTransport(tp), middleware(userAgent)...),
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the SDK's redirect middleware decides
		},
	}
}

// newDefenderHTTPClient builds the HTTP client of the Defender API: the same
// transport, recorded, without Graph's SDK middleware. Redirects are not
// followed (a token must not follow one to another host).
func newDefenderHTTPClient(timeout time.Duration, tp trace.TracerProvider) *http.Client {
	return &http.Client{
		Transport: recordingTransport{next: newTransport(tp)},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// newTransport is the connection pool of a client, enough idle connections
// for a concurrent worker, under one span per request (see
// tracing.Transport): every Graph and Defender request goes through it.
func newTransport(tp trace.TracerProvider) http.RoundTripper {
	return tracing.Transport(&http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}, tp)
}

// readCloser reads r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }
