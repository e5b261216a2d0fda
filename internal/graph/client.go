// Package graph is graphsoar's Microsoft Graph client: the calls the worker and
// the producer make (get an incident with alerts, PATCH an incident, post a
// comment, block a file hash with a beta security action, list incidents
// changed since a time), built on msgraph-sdk-go's request builders and
// adapter, with one credential per tenant.
//
// Responses are read as raw JSON into internal/incident's model, so a value
// Graph adds to an enumeration never fails a call. Every failure is an *Error
// classified once (see Error.Retryable). The client retries in-process with
// Retry-After or jittered backoff (kiota's own retry handler is removed, so the
// two never multiply), keeps each tenant under its configured rate limits, and
// after a 429 holds every call of that tenant until the Retry-After has passed.
// Secrets never appear in its errors or logs.
package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	sdksecurity "github.com/microsoftgraph/msgraph-sdk-go/security"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/ctxtime"
	"github.com/graphsoar/graphsoar/internal/secret"
	"github.com/graphsoar/graphsoar/internal/tracing"
)

// Client talks to Microsoft Graph for any number of tenants. It is safe for
// concurrent use.
type Client struct {
	cfg           Config
	log           *slog.Logger
	observe       func(RequestEvent)
	http          *http.Client // Graph, through the SDK's middleware
	defenderHTTP  *http.Client // Defender for Endpoint
	authTransport policy.Transporter
	scrub         secret.Scrubber
	now           func() time.Time
	ua            string
	tracer        trace.TracerProvider

	mu      sync.Mutex
	tenants map[string]*tenantClient
}

// RequestEvent describes one HTTP attempt, for metrics.
type RequestEvent struct {
	Tenant   string
	Op       string // the operation kind: "get incident", "patch incident", ...
	Status   int    // 0: no response
	Duration time.Duration
	Attempt  int
	Err      *Error // nil on success
}

// Option configures a Client.
type Option func(*Client)

// WithLogger sets the logger (retries at debug level, throttling at info).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithObserver receives every HTTP attempt (for metrics). It must not block.
func WithObserver(f func(RequestEvent)) Option { return func(c *Client) { c.observe = f } }

// WithAuthTransport sets the HTTP transport of the token requests to Microsoft
// Entra (a proxy, or a test authority).
func WithAuthTransport(t policy.Transporter) Option { return func(c *Client) { c.authTransport = t } }

// WithUserAgent names this process in the User-Agent of its Defender calls
// and in front of the SDK's on its Graph calls (a replica id, say).
func WithUserAgent(ua string) Option { return func(c *Client) { c.ua = ua } }

// WithClock sets the clock used to read HTTP-date Retry-After values.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// WithTracerProvider traces every Graph and Defender HTTP request: one
// client span per attempt, named after the operation ("patch incident"),
// the child of the caller's span, with the method, URL path, status code,
// tenant and attempt. Default (or nil): no traces.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *Client) { c.tracer = tp } }

// New builds a client. It applies defaults, validates the configuration and
// builds the credentials of the configured tenants, so a bad certificate or
// mode fails here rather than on the first event.
func New(cfg Config, opts ...Option) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: slog.New(slog.DiscardHandler), tenants: map[string]*tenantClient{}, now: time.Now}
	for _, o := range opts {
		o(c)
	}
	c.scrub = secret.NewScrubber(cfg.secrets()...)
	c.tracer = tracing.OrNoop(c.tracer)
	c.http = newHTTPClient(cfg.Timeout, c.userAgent(), c.tracer)
	c.defenderHTTP = newDefenderHTTPClient(cfg.Timeout, c.tracer)
	for id := range cfg.Tenants {
		if _, err := c.tenant(id); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// userAgent is the product name of this client's requests.
func (c *Client) userAgent() string {
	if c.ua == "" {
		return "graphsoar"
	}
	return "graphsoar (" + c.ua + ")"
}

// Root returns the Graph root the client calls.
func (c *Client) Root() string { return c.cfg.Root }

// tenant returns the state of one tenant, creating it on first use.
func (c *Client) tenant(id string) (*tenantClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tenants[id]; ok {
		return t, nil
	}
	cred, ok := c.cfg.Tenants[id]
	if !ok {
		if c.cfg.Default == nil {
			return nil, fmt.Errorf("tenant %q is not configured", id)
		}
		cred = *c.cfg.Default
	}
	if id == "" {
		return nil, errors.New("no tenant id")
	}
	auth, defenderToken, err := c.authProvider(id, cred)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %s", id, c.scrub.Text(err.Error()))
	}
	// Each adapter has its own JSON (de)serializer registries: the SDK's
	// NewGraphServiceClient would register them in kiota's package-level
	// defaults, which races when two clients are built at once.
	parse := absser.NewParseNodeFactoryRegistry()
	parse.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	write := absser.NewSerializationWriterFactoryRegistry()
	write.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, parse, write, c.http)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", id, err)
	}
	adapter.SetBaseUrl(c.cfg.Root + "/v1.0")
	t := &tenantClient{
		id:        id,
		adapter:   adapter,
		incidents: sdksecurity.NewIncidentsRequestBuilderInternal(map[string]string{"baseurl": adapter.GetBaseUrl()}, adapter),
		limits: map[limitClass]*limiter{
			incidentCalls:  newLimiter(c.cfg.IncidentRate),
			actionCalls:    newLimiter(c.cfg.SecurityActionRate),
			indicatorCalls: newLimiter(c.cfg.Defender.IndicatorRate),
		},
		defenderToken: defenderToken,
	}
	c.tenants[id] = t
	return t, nil
}

// ClaimBudget empties the tenant's rate budgets, as if their whole bursts had
// just been spent. A replica that takes over a tenant from another calls it
// before the tenant's first call, so that the two replicas together stay
// within each budget in any window: the newcomer's calls come only from the
// refill while the predecessor's may still count.
func (c *Client) ClaimBudget(tenant string) {
	if t, err := c.tenant(tenant); err == nil {
		t.drainBudgets()
	}
}

// errorMapping maps every error status to Graph's OData error.
var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// call is one Graph operation.
type call struct {
	op         string // for messages: "patch incident 4211"
	kind       string // for metrics: "patch incident"
	tenant     string
	class      limitClass
	idempotent bool
	send       func(ctx context.Context, t *tenantClient) error
}

// Info describes a completed operation, for audit.
type Info struct {
	RequestID string
	Status    int
	Attempts  int
	Duration  time.Duration
}

// run performs a call with rate limiting and retries. A retryable failure is
// tried again, up to MaxAttempts, after Graph's Retry-After or a jittered
// backoff, unless the wait would exceed MaxRetryWait; a write that is not
// idempotent is tried again only when Graph certainly did not apply it
// (429, or the request never left). A 429 holds every call of the tenant
// until its Retry-After has passed.
func (c *Client) run(ctx context.Context, k call) (Info, error) {
	start := c.now()
	t, err := c.tenant(k.tenant)
	if err != nil {
		return Info{}, opError(k.op, k.tenant, ErrAuth, "%v", err)
	}
	for attempt := 1; ; attempt++ {
		if err := t.wait(ctx, k.class, c.cfg.MaxRetryWait); err != nil {
			var limited *Error
			if errors.As(err, &limited) {
				limited.Op, limited.Attempts = k.op, attempt-1
				return Info{Attempts: attempt - 1}, limited
			}
			return Info{Attempts: attempt - 1}, fmt.Errorf("%s: %w", k.op, err)
		}
		rec := &record{}
		actx, cancel := context.WithTimeout(withRecord(ctx, rec), c.cfg.Timeout)
		actx = tracing.WithRequest(actx, k.kind, requestAttributes(k.tenant, attempt)...)
		began := time.Now()
		err := k.send(actx, t)
		cancel()
		info := Info{RequestID: rec.requestID, Status: rec.status, Attempts: attempt, Duration: c.now().Sub(start)}
		if err != nil && !k.idempotent && rec.status >= 200 && rec.status <= 299 && ctx.Err() == nil {
			// The write was applied (Graph said 2xx); only its answer was
			// lost. Failing it would write it again.
			c.log.Warn("write applied but its response is unreadable", "tenant", k.tenant, "op", k.op, "status", rec.status,
				"request_id", rec.requestID, "err", c.scrub.Err(err))
			err = nil
		}
		var gerr *Error
		if err != nil {
			if ctx.Err() != nil {
				return info, fmt.Errorf("%s: %w", k.op, ctx.Err())
			}
			gerr = classify(k.op, k.tenant, rec, c.scrub.Err(safeODataError(err)), c.now())
			gerr.Attempts = attempt
			gerr.Code, gerr.Message = c.scrub.Text(gerr.Code), c.scrub.Text(gerr.Message)
		}
		if c.observe != nil {
			c.observe(RequestEvent{Tenant: k.tenant, Op: k.kind, Status: rec.status, Duration: time.Since(began), Attempt: attempt, Err: gerr})
		}
		if gerr == nil {
			return info, nil
		}
		if gerr.RetryAfter > 0 && (gerr.kind == ErrThrottled || gerr.Status == http.StatusServiceUnavailable) {
			t.pause(c.now().Add(gerr.RetryAfter))
			c.log.Info("graph throttled", "tenant", k.tenant, "op", k.op, "status", gerr.Status, "code", gerr.Code, "retry_after", gerr.RetryAfter)
		}
		safe := k.idempotent || gerr.kind == ErrThrottled || !gerr.sent
		if !gerr.Retryable() || !safe || attempt >= c.cfg.MaxAttempts {
			return info, gerr
		}
		wait := gerr.RetryAfter
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if wait > c.cfg.MaxRetryWait {
			return info, gerr
		}
		c.log.Debug("graph retry", "tenant", k.tenant, "op", k.op, "attempt", attempt, "status", gerr.Status, "code", gerr.Code, "wait", wait)
		if err := ctxtime.Sleep(ctx, wait); err != nil {
			return info, fmt.Errorf("%s: %w", k.op, err)
		}
	}
}

// requestAttributes are what a call adds to the span of each attempt's
// request (see tracing.Transport).
func requestAttributes(tenant string, attempt int) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.String("graphsoar.tenant", tenant), attribute.Int("graphsoar.attempt", attempt)}
	if attempt > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(attempt-1))
	}
	return attrs
}

// backoff is full-jitter exponential backoff: a random wait up to
// BackoffBase·2^(attempt-1), at most BackoffMax.
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.cfg.BackoffBase << min(attempt-1, 20)
	if ceiling > c.cfg.BackoffMax || ceiling <= 0 {
		ceiling = c.cfg.BackoffMax
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}
