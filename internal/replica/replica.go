// Package replica wires one worker replica: JetStream consumption
// (internal/consume) around the handling of one event (internal/worker),
// with the key-value buckets and the audit stream behind the worker's ports.
// The commands (run, demo), the load test and the tests build replicas here.
package replica

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// Options configure a replica.
type Options struct {
	JS       jetstream.JetStream
	Topology broker.Topology
	Buckets  broker.Buckets
	Rules    worker.RuleSource
	Graph    worker.Graph
	Log      *slog.Logger
	Metrics  *telemetry.Metrics
	// Tracer traces each event: consume, evaluate, each Graph request (the
	// Graph client has its own, graph.WithTracerProvider). Default: none.
	Tracer trace.TracerProvider

	// ID names the replica (leases, idempotency records, audit). Required.
	ID string
	// Concurrency bounds the events handled at once. Default 32.
	Concurrency int
	// Batch is the number of events fetched ahead per partition. Default 256.
	Batch int
	// DryRun evaluates and audits plans without writing to Graph.
	DryRun bool
	// Refresh reads the incident from Graph before writing. Default on.
	Refresh *bool
	// ActionBudget: see worker.Options. 0: 20 an hour.
	ActionBudget int
	// Identity is graphsoar's lastModifiedBy in Graph, when known.
	Identity string
	// EventTimeout bounds the handling of one event. Default 2m.
	EventTimeout time.Duration
	// DrainTimeout bounds a partition's drain. Default 30s.
	DrainTimeout time.Duration
	// RetryBudget is how long an event may keep failing before it is
	// dead-lettered. Default 6h.
	RetryBudget time.Duration
	// Create lets consumption recreate a deleted consumer or stream.
	Create bool
	// MaxEventBytes, MaxAlerts, MaxEvidence: see worker.Options.
	MaxEventBytes, MaxAlerts, MaxEvidence int
	// ApprovalTimeout: see worker.Options. Default 24h.
	ApprovalTimeout time.Duration
	// ApprovalSweep is how often the replica expires held actions past
	// their deadline and republishes decisions not carried out after
	// ApprovalRepublish. Defaults 30s and 2m.
	ApprovalSweep, ApprovalRepublish time.Duration
	// OnSettled, when set, is told of every settled event; it must not block.
	OnSettled func(consume.Settlement)

	// Tuning, mostly for tests (0: the defaults of consume and worker).
	RetryBase, RetryMax, EffectLease, RenewInterval, PullExpiry time.Duration
}

// Replica is a worker replica.
type Replica struct {
	Consumer *consume.Consumer
	Worker   *worker.Worker
	// Approvals is the store of held actions (nil without its bucket).
	Approvals *approval.Store

	log                     *slog.Logger
	sweepEvery, republishAt time.Duration
}

// New builds a replica.
func New(o Options) (*Replica, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewMetrics()
	}
	if o.EventTimeout <= 0 {
		o.EventTimeout = 2 * time.Minute
	}
	if o.RetryBudget <= 0 {
		o.RetryBudget = 6 * time.Hour
	}
	if o.ApprovalSweep <= 0 {
		o.ApprovalSweep = 30 * time.Second
	}
	if o.ApprovalRepublish <= 0 {
		o.ApprovalRepublish = 2 * time.Minute
	}
	state := kv.JetStream(o.Buckets.State)
	var approvals *approval.Store
	if o.Buckets.Approvals != nil {
		approvals = approval.NewStore(kv.JetStream(o.Buckets.Approvals), broker.JetStreamPublisher{JS: o.JS}, nil)
	}
	w, err := worker.New(worker.Options{
		Rules: o.Rules, Graph: o.Graph, State: state, Effects: kv.JetStream(o.Buckets.Effects),
		Audit: broker.JetStreamPublisher{JS: o.JS}, Log: o.Log, Metrics: o.Metrics, ID: o.ID, DryRun: o.DryRun,
		Refresh: o.Refresh, ActionBudget: o.ActionBudget, EffectLease: o.EffectLease, Identity: o.Identity,
		MaxEventBytes: o.MaxEventBytes, MaxAlerts: o.MaxAlerts, MaxEvidence: o.MaxEvidence, Tracer: o.Tracer,
		Approvals: approvals, ApprovalTimeout: o.ApprovalTimeout,
	})
	if err != nil {
		return nil, err
	}
	handler := consume.Chain(w.Handle,
		consume.Exhaust(state, o.RetryBudget, o.Topology.MaxDeliver, time.Now),
		consume.Recover(o.Log),
		consume.Timeout(o.EventTimeout))
	c, err := consume.New(consume.Options{
		JS: o.JS, Topology: o.Topology, Coord: o.Buckets.Coord, Handler: handler, Log: o.Log, Metrics: o.Metrics,
		ID: o.ID, Concurrency: o.Concurrency, Batch: o.Batch, Create: o.Create, DrainTimeout: o.DrainTimeout,
		RetryBase: o.RetryBase, RetryMax: o.RetryMax, RenewInterval: o.RenewInterval, PullExpiry: o.PullExpiry,
		OnSettled: o.OnSettled, OnRelease: w.Release, Tracer: o.Tracer,
	})
	if err != nil {
		return nil, err
	}
	return &Replica{Consumer: c, Worker: w, Approvals: approvals, log: o.Log, sweepEvery: o.ApprovalSweep, republishAt: o.ApprovalRepublish}, nil
}

// Run consumes until ctx ends, then drains (see consume.Consumer.Run). Beside
// it, the replica sweeps the held actions (approval.Store.Sweep); every
// replica does, and each expiry is decided once.
func (r *Replica) Run(ctx context.Context) error {
	if r.Approvals == nil {
		return r.Consumer.Run(ctx)
	}
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { r.Approvals.RunSweeper(sctx, r.sweepEvery, r.republishAt, r.log) })
	err := r.Consumer.Run(ctx)
	stop()
	wg.Wait()
	return err
}

// Ready reports whether the replica consumes every partition it owns.
func (r *Replica) Ready(ctx context.Context) error { return r.Consumer.Ready(ctx) }
