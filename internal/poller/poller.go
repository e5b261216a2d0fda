// Package poller is graphsoar's incident change producer. Graph has no change
// notifications for security incidents, so the producer polls
// GET /security/incidents?$filter=lastUpdateDateTime ge {watermark}&$expand=alerts
// for each tenant and publishes one CloudEvent per changed incident to
// security.incidents.<tenant>.<incident>.
//
// Guarantees: the watermark of a tenant moves only after JetStream
// acknowledged every event of a pass, so a crash or restart never skips a
// change; the version published of each incident is recorded, so an incident
// is published once per version (the boundary incident at ge, or one listed
// again in the overlap window, is not republished); and every event carries
// Nats-Msg-Id <tenant>:<incident>:<lastUpdateDateTime>, so what a crash did
// publish twice, JetStream drops as a duplicate.
package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/tracing"
)

// Lister lists a tenant's incidents changed since a time (*graph.Client).
type Lister interface {
	ListIncidents(ctx context.Context, tenant string, q graph.ListQuery, page func([]*incident.Incident) error) error
}

// Options configure a Poller.
type Options struct {
	JS      jetstream.JetStream
	Graph   Lister
	Tenants []string
	// Subject is the subject prefix: events go to <Subject>.<tenant>.<incident>.
	// Default security.incidents.
	Subject string
	// State holds watermarks and the versions published (graphsoar-poll).
	State jetstream.KeyValue
	// Coord holds the per-tenant leases (graphsoar-coord, with a short TTL), so
	// that two producers never poll one tenant at once. Optional.
	Coord jetstream.KeyValue
	// ID names this producer in leases and event sources.
	ID string
	// LeaseTTL is the coordination bucket's TTL: how long a tenant's lease
	// lasts without renewal. Default 6s.
	LeaseTTL time.Duration
	// Interval between passes. Default 30s.
	Interval time.Duration
	// Since is where a tenant without a watermark starts. Default: now minus
	// one interval.
	Since time.Time
	// Overlap re-reads this much before the watermark, for changes Graph shows
	// late; they are published once (the version records). Default 1m.
	Overlap  time.Duration
	PageSize int
	Log      *slog.Logger
	Metrics  *telemetry.Metrics
	Now      func() time.Time
	// Tracer traces each pass ("poll"), each tenant's ("poll tenant") and
	// each event published ("publish <subject prefix>"), whose W3C trace
	// context (traceparent) the event carries: the worker's handling of it
	// joins the trace. Default (nil): no traces, no traceparent.
	Tracer trace.TracerProvider
}

// Poller polls Graph and publishes incident events.
type Poller struct {
	o      Options
	tracer trace.Tracer
	mu     sync.Mutex
	held   map[string]uint64 // tenant -> revision of the lease this producer holds
}

// New checks the options.
func New(o Options) (*Poller, error) {
	if o.JS == nil || o.Graph == nil || o.State == nil {
		return nil, errors.New("poller: JetStream, Graph and a state bucket are required")
	}
	if len(o.Tenants) == 0 {
		return nil, errors.New("poller: no tenants to poll (--tenant, or tenants in the config file)")
	}
	if o.Subject == "" {
		o.Subject = "security.incidents"
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Overlap < 0 {
		o.Overlap = 0
	} else if o.Overlap == 0 {
		o.Overlap = time.Minute
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewMetrics()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ID == "" {
		o.ID = "graphsoar-poll"
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 6 * time.Second
	}
	return &Poller{o: o, held: map[string]uint64{}, tracer: tracing.OrNoop(o.Tracer).Tracer(tracing.Scope + "/internal/poller")}, nil
}

// Run polls every interval until ctx ends, then releases its leases. A
// tenant that fails is reported and polled again next time; the others go on.
func (p *Poller) Run(ctx context.Context) error {
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		p.Release(rctx)
	}()
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		_ = p.Pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass polls every tenant once and returns the tenants' errors joined.
func (p *Poller) Pass(ctx context.Context) (err error) {
	ctx, span := p.startPass(ctx)
	defer func() { endSpan(span, err) }()
	var errs []error
	for _, tenant := range p.o.Tenants {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		n, err := p.tracedPollTenant(ctx, tenant)
		p.o.Metrics.PollDuration.WithLabelValues(tenant).Observe(time.Since(start).Seconds())
		if err != nil {
			var leased *leasedError
			if errors.As(err, &leased) {
				p.o.Log.Info("tenant skipped: another producer polls it", "tenant", tenant, "holder", leased.holder,
					"until", leased.until.UTC().Format(time.RFC3339))
				continue
			}
			if errors.Is(err, errLeased) {
				p.o.Log.Info("tenant skipped: another producer polls it", "tenant", tenant)
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.o.Metrics.PollErrors.WithLabelValues(tenant).Inc()
			p.o.Log.Error("poll failed", "tenant", tenant, "err", err)
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenant, err))
			continue
		}
		p.o.Log.Info("polled", "tenant", tenant, "published", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}

var errLeased = errors.New("tenant leased by another producer")

// watermark is a tenant's polling position.
type watermark struct {
	Time time.Time `json:"time"`
}

func watermarkKey(tenant string) string { return "wm." + broker.KeyToken(tenant) }
func versionKey(tenant, id string) string {
	return "v." + broker.KeyToken(tenant) + "." + broker.KeyToken(id)
}

// pollTenant runs one pass for a tenant and returns the events published.
func (p *Poller) pollTenant(parent context.Context, tenant string) (int, error) {
	leaseRev, err := p.lease(parent, tenant)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	stop := p.holdLease(ctx, cancel, tenant, leaseRev)
	defer func() {
		last := stop()
		if ctx.Err() == nil || parent.Err() != nil {
			p.mu.Lock()
			p.held[tenant] = last
			p.mu.Unlock()
		}
	}()
	wm, rev, err := p.readWatermark(ctx, tenant)
	if err != nil {
		return 0, err
	}
	since := wm.Time.Add(-p.o.Overlap)
	newest := wm.Time
	published := 0
	err = p.o.Graph.ListIncidents(ctx, tenant, graph.ListQuery{Since: since, PageSize: p.o.PageSize}, func(page []*incident.Incident) (err error) {
		p.o.Metrics.PollIncidents.WithLabelValues(tenant).Add(float64(len(page)))
		var acks []jetstream.PubAckFuture
		var versions []pendingVersion
		// The spans of the events published end at their ack, or with the
		// page's error.
		var spans []trace.Span
		acked := 0
		defer func() { endSpans(spans[acked:], err) }()
		for _, inc := range page {
			if inc.LastUpdateDateTime.After(newest) {
				newest = inc.LastUpdateDateTime
			}
			last, seen, err := p.publishedVersion(ctx, tenant, inc.ID)
			if err != nil {
				return err
			}
			if seen && !inc.LastUpdateDateTime.After(last) {
				continue // this version (or a newer one) was published
			}
			msg, err := p.event(tenant, inc, !seen || inc.CreatedDateTime.Equal(inc.LastUpdateDateTime))
			if err != nil {
				return err
			}
			spans = append(spans, p.startPublish(ctx, tenant, inc.ID, msg))
			ack, err := p.o.JS.PublishMsgAsync(msg)
			if err != nil {
				return fmt.Errorf("publish incident %s: %w", inc.ID, err)
			}
			acks = append(acks, ack)
			versions = append(versions, pendingVersion{id: inc.ID, version: inc.LastUpdateDateTime})
		}
		// Every event of the page is in JetStream before its version is
		// recorded and before the next page.
		for i, a := range acks {
			select {
			case <-a.Ok():
				published++
				endSpan(spans[i], nil)
				acked++
			case err := <-a.Err():
				return fmt.Errorf("publish: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for _, v := range versions {
			if err := p.recordVersion(ctx, tenant, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return published, err
	}
	// The whole pass is in JetStream: the watermark may move (Graph's list is
	// not ordered by lastUpdateDateTime, so not before).
	p.o.Metrics.PollPublished.WithLabelValues(tenant).Add(float64(published))
	// A tenant's first pass stores its start even when nothing changed, so
	// that a restart resumes from there, not from the restart's now.
	if newest.After(wm.Time) || rev == 0 {
		if err := p.writeWatermark(ctx, tenant, watermark{Time: newest}, rev); err != nil {
			return published, err
		}
	}
	p.o.Metrics.PollWatermark.WithLabelValues(tenant).Set(float64(newest.Unix()))
	return published, nil
}

type pendingVersion struct {
	id      string
	version time.Time
}

// event builds the CloudEvent of an incident version.
func (p *Poller) event(tenant string, inc *incident.Incident, created bool) (*nats.Msg, error) {
	data, err := inc.JSON()
	if err != nil {
		return nil, err
	}
	typ := incident.TypeUpdated
	if created {
		typ = incident.TypeCreated
	}
	key := incident.VersionKey(tenant, inc.ID, inc.LastUpdateDateTime)
	body, err := json.Marshal(map[string]any{
		"specversion":     "1.0",
		"id":              key,
		"source":          "graphsoar/poll/" + tenant,
		"type":            typ,
		"subject":         inc.ID,
		"time":            inc.LastUpdateDateTime.UTC().Format(time.RFC3339Nano),
		"tenantid":        tenant,
		"datacontenttype": "application/json",
		"data":            json.RawMessage(data),
	})
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(p.o.Subject + "." + broker.SubjectToken(tenant) + "." + broker.SubjectToken(inc.ID))
	m.Data = body
	m.Header.Set(nats.MsgIdHdr, key)
	return m, nil
}
