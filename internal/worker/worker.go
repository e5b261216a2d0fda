// Package worker is graphsoar's main job: it consumes incident change events
// from NATS JetStream, evaluates the rules and carries out the plans as Graph
// writes, with these guarantees:
//
//   - No event is lost: an event is acknowledged only after every planned
//     action succeeded or was recorded as failed for good; a retryable failure
//     is redelivered (NakWithDelay, honouring Graph's Retry-After); a permanent
//     one, or one out of deliveries, is stored on graphsoar.dlq.<tenant>.<incident>
//     with the reason before the event is terminated. Malformed events go to
//     graphsoar.dlq.unknown.
//   - No write is doubled: PATCHes send only what differs from the incident;
//     comments and security actions are recorded in an idempotency store
//     before and after the write and checked against Graph after a crash.
//   - No write loop: our own PATCH comes back as an update that differs in
//     nothing, and a per-incident action budget stops a runaway rule.
//   - Per-incident order: each incident hashes to a partition, each partition
//     is consumed by one replica at a time (leases in a key-value bucket), and
//     within a replica an incident's events run one at a time in stream order.
//     Different incidents run concurrently up to Options.Concurrency.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/telemetry"
)

// Graph is what the worker needs of the Graph client (*graph.Client).
type Graph interface {
	GetIncident(ctx context.Context, tenant, id string) (*incident.Incident, graph.Info, error)
	UpdateIncident(ctx context.Context, tenant, id string, p actions.Patch) (*incident.Incident, graph.Info, error)
	AddComment(ctx context.Context, tenant, id, text string) ([]*incident.Comment, graph.Info, error)
	BlockFileHash(ctx context.Context, tenant string, r graph.BlockRequest) (graph.Block, graph.Info, error)
	FindBlock(ctx context.Context, tenant string, r graph.BlockRequest) (*graph.Block, error)
}

// RuleSource supplies the current rule set (hot reload swaps it).
type RuleSource interface {
	Current() *rules.RuleSet
}

// Options are the worker's dependencies and settings.
type Options struct {
	JS       jetstream.JetStream
	Topology broker.Topology
	Buckets  broker.Buckets
	Rules    RuleSource
	Graph    Graph
	Log      *slog.Logger
	Metrics  *telemetry.Metrics
	Now      func() time.Time

	// ID names this replica (leases, idempotency records, audit). Required.
	ID string
	// Concurrency bounds the events handled at once. Default 32.
	Concurrency int
	// Batch is the number of events fetched ahead per partition. Default 64.
	Batch int
	// DryRun evaluates and audits plans without writing to Graph.
	DryRun bool
	// Refresh reads the incident from Graph before writing, and re-evaluates
	// when Graph has a newer version than the event. Default on.
	Refresh *bool
	// ActionBudget is the most Graph writes one incident may cause in an hour;
	// an event over it is dead-lettered. 0: default 20; negative: no budget.
	ActionBudget int
	// EventTimeout bounds the handling of one event. Default 2m.
	EventTimeout time.Duration
	// DrainTimeout bounds the drain on shutdown or partition release. Default 30s.
	DrainTimeout time.Duration
	// RetryBase and RetryMax shape the redelivery backoff when Graph gave no
	// Retry-After. Defaults 2s and 5m.
	RetryBase, RetryMax time.Duration
	// EffectLease is how long a claimed comment or security action is
	// considered in progress by its claimer. Default 3m.
	EffectLease time.Duration
	// BalanceInterval is the lease round period. Default LeaseTTL/3.
	BalanceInterval time.Duration
	// FlushInterval is the write-behind period of incident state. Default 1s.
	FlushInterval time.Duration
	// Identity is the lastModifiedBy Graph writes for graphsoar's own
	// changes (the app's name), when known in advance; otherwise the worker
	// learns it per tenant from its first PATCH.
	Identity string
	// OnSettled, when set, is told of every settled event (for the demo and
	// the load test). It must not block.
	OnSettled func(Settlement)
}

// Settlement describes a settled event.
type Settlement struct {
	Subject   string
	EventID   string // "" when the event could not be read
	Tenant    string // "" when the event could not be read
	Incident  string
	Outcome   string // acked, skipped_stale, retried, dead_lettered, dry_run
	Reason    string
	Err       error
	Published time.Time // when JetStream stored the event
	Settled   time.Time
}

// Worker consumes, evaluates and acts. Create it with New and run it with Run.
type Worker struct {
	opts    Options
	js      jetstream.JetStream
	topo    broker.Topology
	buckets broker.Buckets
	rules   RuleSource
	graph   Graph
	log     *slog.Logger
	metrics *telemetry.Metrics
	now     func() time.Time

	states *stateStore
	disp   *dispatcher
	// handlers is the context of event handling; cancelled when a drain
	// runs out of time, so abandoned Graph calls stop.
	handlers     context.Context
	stopHandlers context.CancelFunc
	// acked and skipped are the events counters of the common outcomes.
	acked, skipped prometheus.Counter
	handler        Handler
	effectKeys     keyLocks          // idempotency keys being written by this process
	owned          map[string]*owned // touched by the Run goroutine only
	nOwned         atomic.Int64
	running        atomic.Bool
	balanced       atomic.Bool
	identities     sync.Map // tenant -> the lastModifiedBy of our own writes
}

// identity is the lastModifiedBy of graphsoar's own changes in a tenant, or
// "" while unknown.
func (w *Worker) identity(tenant string) string {
	if v, ok := w.identities.Load(tenant); ok {
		return v.(string)
	}
	return w.opts.Identity
}

// learnIdentity records what Graph wrote as lastModifiedBy for our PATCH.
func (w *Worker) learnIdentity(tenant, name string) {
	if name != "" {
		w.identities.Store(tenant, name)
	}
}

// New checks the options and builds a worker.
func New(o Options) (*Worker, error) {
	switch {
	case o.JS == nil, o.Rules == nil, o.Graph == nil, o.Buckets.State == nil, o.Buckets.Effects == nil, o.Buckets.Coord == nil:
		return nil, errors.New("worker: JetStream, buckets, rules and Graph are required")
	case o.ID == "":
		return nil, errors.New("worker: an ID is required")
	}
	if err := o.Topology.Validate(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
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
	defaults := []struct {
		d *time.Duration
		v time.Duration
	}{
		{&o.EventTimeout, 2 * time.Minute}, {&o.DrainTimeout, 30 * time.Second}, {&o.RetryBase, 2 * time.Second},
		{&o.RetryMax, 5 * time.Minute}, {&o.EffectLease, 3 * time.Minute}, {&o.BalanceInterval, o.Topology.LeaseTTL / 3},
		{&o.FlushInterval, time.Second},
	}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.v
		}
	}
	if o.BalanceInterval <= 0 {
		o.BalanceInterval = 5 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Batch <= 0 {
		o.Batch = 64
	}
	if o.ActionBudget == 0 {
		o.ActionBudget = 20
	}
	if o.Refresh == nil {
		on := true
		o.Refresh = &on
	}
	w := &Worker{
		opts: o, js: o.JS, topo: o.Topology, buckets: o.Buckets, rules: o.Rules, graph: o.Graph,
		log: o.Log, metrics: o.Metrics, now: o.Now, states: newStateStore(o.Buckets.State), owned: map[string]*owned{},
	}
	w.handlers, w.stopHandlers = context.WithCancel(context.Background())
	w.acked = o.Metrics.Events.WithLabelValues("acked")
	w.skipped = o.Metrics.Events.WithLabelValues("skipped_stale")
	// The dispatcher heartbeats every delivery in hand (InProgress), so a slow
	// Graph call does not get the event redelivered elsewhere.
	w.handler = Chain(w.handle, Exhausted(o.Topology.MaxDeliver), Recover(w.log), Timeout(o.EventTimeout))
	w.disp = newDispatcher(o.Concurrency, w.deliver, w.maxHold, w.now)
	return w, nil
}

// deliver handles and settles one delivery.
func (w *Worker) deliver(d *Delivery) bool {
	w.metrics.InFlight.Inc()
	defer w.metrics.InFlight.Dec()
	r := w.handler(w.handlers, d)
	if w.handlers.Err() != nil {
		// Abandoned at shutdown: the event stays unsettled and comes back.
		return false
	}
	return w.settle(d, r)
}

// maxHold is how long a lane waits for a retried event to come back.
func (w *Worker) maxHold(*Delivery) time.Duration { return w.opts.RetryMax + 2*w.topo.AckWait }

// Ready reports whether the worker is consuming (a lease round has run).
func (w *Worker) Ready(context.Context) error {
	if !w.running.Load() || !w.balanced.Load() {
		return errors.New("worker not consuming yet")
	}
	return nil
}

// Partitions returns the number of partitions this replica consumes.
func (w *Worker) Partitions() int { return int(w.nOwned.Load()) }

// Run consumes until ctx ends, then drains: it stops fetching, finishes the
// events in hand (up to DrainTimeout), stores the incident state, gives up
// its partitions and waits for audit publishes. It returns nil after a clean
// drain.
func (w *Worker) Run(ctx context.Context) error {
	w.running.Store(true)
	defer w.running.Store(false)
	w.log.Info("worker started", "id", w.opts.ID, "partitions", len(w.topo.PartitionIDs()), "concurrency", w.opts.Concurrency,
		"dry_run", w.opts.DryRun)
	balance := time.NewTicker(w.opts.BalanceInterval)
	defer balance.Stop()
	fast := time.NewTicker(500 * time.Millisecond)
	defer fast.Stop()
	flush := time.NewTicker(w.opts.FlushInterval)
	defer flush.Stop()
	heartbeat := time.NewTicker(max(w.topo.AckWait/3, time.Second))
	defer heartbeat.Stop()
	lag := time.NewTicker(5 * time.Second)
	defer lag.Stop()

	w.round(ctx)
	for {
		select {
		case <-ctx.Done():
			return w.drain(ctx)
		case <-balance.C:
			w.round(ctx)
		case <-fast.C:
			for _, o := range w.owned {
				o.p.checkRecovery(ctx)
			}
			w.disp.recheck()
		case <-flush.C:
			if err := w.states.flush(ctx, "", false); err != nil && ctx.Err() == nil {
				w.log.Warn("incident state flush", "err", err)
			}
		case <-heartbeat.C:
			w.disp.each(func(d *Delivery) { _ = d.Msg.InProgress() })
		case <-lag.C:
			w.observeLag(ctx)
		}
	}
}

func (w *Worker) round(ctx context.Context) {
	if err := w.balance(ctx); err != nil {
		if ctx.Err() == nil {
			w.log.Warn("partition balancing", "err", err)
		}
		return
	}
	w.nOwned.Store(int64(len(w.owned)))
	w.balanced.Store(true)
}

func (w *Worker) drain(ctx context.Context) error {
	start := time.Now()
	w.log.Info("draining", "in_flight", w.disp.inFlight(), "partitions", len(w.owned))
	w.releaseAll(ctx)
	var err error
	timeout := make(chan struct{})
	timer := time.AfterFunc(w.opts.DrainTimeout, func() { close(timeout) })
	if !w.disp.idle(timeout) {
		err = fmt.Errorf("drain: events still in flight after %v; they will be redelivered", w.opts.DrainTimeout)
		w.stopHandlers()
		grace := make(chan struct{})
		time.AfterFunc(5*time.Second, func() { close(grace) })
		w.disp.idle(grace)
	}
	timer.Stop()
	w.stopHandlers()
	w.disp.close()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ferr := w.states.flush(fctx, "", true); ferr != nil {
		w.log.Warn("incident state not stored at shutdown", "err", ferr)
	}
	select {
	case <-w.js.PublishAsyncComplete():
	case <-fctx.Done():
		w.log.Warn("audit events still unacknowledged at shutdown")
	}
	w.nOwned.Store(0)
	w.log.Info("drained", "took", time.Since(start), "err", errString(err))
	return err
}

// observeLag publishes the consumers' pending counts.
func (w *Worker) observeLag(ctx context.Context) {
	for id, o := range w.owned {
		info, err := o.p.cons.Info(ctx)
		if err != nil {
			continue
		}
		w.metrics.ConsumerPending.WithLabelValues(id).Set(float64(info.NumPending))
		w.metrics.AckPending.WithLabelValues(id).Set(float64(info.NumAckPending))
	}
}
