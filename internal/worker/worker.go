// Package worker handles one incident event at a time: it reads the event,
// completes a thin one from Graph, skips one older than the incident's
// newest version handled, evaluates the rules and carries out the plan as
// Graph writes, with these guarantees:
//
//   - No write is doubled: PATCHes send only what differs from the incident;
//     comments and blocks are recorded in an idempotency store before and
//     after the write and, after a crash or an ambiguous failure, checked
//     against Graph (or Defender) before anything is written again.
//   - No write loop: our own PATCH comes back as an update that differs in
//     nothing (and, when Graph names graphsoar as its author and every
//     comment and block is recorded done, without even a GET); a
//     per-incident action budget stops a runaway rule.
//   - Nothing silent: every planned action is audited (published and
//     acknowledged before the event is), every skipped event logged and
//     counted.
//
// The worker is the Handler of internal/consume, which owns partitions,
// ordering and settlement; it keeps its state behind ports (kv.Store for the
// incident state and the idempotency records, broker.Publisher for audit
// records) so it runs without NATS in tests.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/tracing"
)

// Graph is what the worker needs of the Graph client (*graph.Client).
type Graph interface {
	GetIncident(ctx context.Context, tenant, id string) (*incident.Incident, graph.Info, error)
	UpdateIncident(ctx context.Context, tenant, id string, p actions.Patch) (*incident.Incident, graph.Info, error)
	AddComment(ctx context.Context, tenant, id, text string) ([]*incident.Comment, graph.Info, error)
	BlockFileHash(ctx context.Context, tenant string, r graph.BlockRequest) (graph.Block, graph.Info, error)
	FindBlock(ctx context.Context, tenant string, r graph.BlockRequest) (*graph.Block, error)
	// ClaimBudget empties a tenant's rate budgets: called before the first
	// call for a tenant after this replica took its partition over.
	ClaimBudget(tenant string)
}

// RuleSource supplies the current rule set (hot reload swaps it).
type RuleSource interface {
	Current() *rules.RuleSet
}

// Options are the worker's dependencies and settings.
type Options struct {
	Rules RuleSource
	Graph Graph
	// State holds each incident's state (version, previous, writes).
	State kv.Store
	// Effects holds the idempotency records of comments and blocks.
	Effects kv.Store
	// Audit stores the audit records (graphsoar.audit.<tenant>.<incident>).
	Audit broker.Publisher
	// Approvals holds the actions rules mark `approval: required`; nil
	// when no rule does (a held action is then dead-lettered).
	Approvals *approval.Store
	// ApprovalTimeout is how long a held action waits for a decision
	// before it expires. Default 24h.
	ApprovalTimeout time.Duration

	Log     *slog.Logger
	Metrics *telemetry.Metrics
	Now     func() time.Time
	// Tracer traces rule evaluation ("evaluate", within the caller's span).
	// Default (nil): no traces.
	Tracer trace.TracerProvider

	// ID names this replica in idempotency records and audit. Required.
	ID string
	// DryRun evaluates and audits plans without writing to Graph.
	DryRun bool
	// Refresh reads the incident from Graph before writing, and re-decides
	// when another party changed it since the event. Default on.
	Refresh *bool
	// ActionBudget is the most Graph writes one incident may cause in an hour;
	// an event over it is dead-lettered. 0: default 20; negative: no budget.
	ActionBudget int
	// EffectLease is how long a claimed comment or block is considered in
	// progress by its claimer while the claimer still owns the partition.
	// Default 3m.
	EffectLease time.Duration
	// Identity is the lastModifiedBy Graph writes for graphsoar's own
	// changes (the app's name), when known in advance; otherwise the worker
	// learns it per tenant from its first PATCH.
	Identity string
	// StateCache bounds the incidents whose state is kept in memory.
	// Default 100,000.
	StateCache int
	// MaxEventBytes, MaxAlerts and MaxEvidence bound an event: one over any
	// of them is dead-lettered as too_large before the rules see it, so that
	// rule evaluation has a measurable worst case. Defaults 1 MiB, 1,000
	// alerts and 10,000 evidence items.
	MaxEventBytes, MaxAlerts, MaxEvidence int
	// FutureSkew is how far past now an event's version may be before it
	// is not trusted (the incident is read from Graph, or the event is
	// dead-lettered as future_version). Default 5m.
	FutureSkew time.Duration
}

// Worker handles events. Create it with New; use Handle as the consume
// Handler and Release as its OnRelease.
type Worker struct {
	opts       Options
	graph      Graph
	log        *slog.Logger
	metrics    *telemetry.Metrics
	now        func() time.Time
	states     *stateStore
	effectKeys keyLocks // idempotency keys being written by this process
	identities sync.Map // tenant -> the lastModifiedBy of our own writes
	epochs     sync.Map // tenant -> the partition epoch its budget was claimed in
	tracer     trace.Tracer
}

// New checks the options and builds a worker.
func New(o Options) (*Worker, error) {
	switch {
	case o.Rules == nil, o.Graph == nil, o.State == nil, o.Effects == nil, o.Audit == nil:
		return nil, errors.New("worker: rules, Graph, the state and effects stores and an audit publisher are required")
	case o.ID == "":
		return nil, errors.New("worker: an ID is required")
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
	if o.EffectLease <= 0 {
		o.EffectLease = 3 * time.Minute
	}
	if o.ActionBudget == 0 {
		o.ActionBudget = 20
	}
	if o.Refresh == nil {
		on := true
		o.Refresh = &on
	}
	if o.StateCache <= 0 {
		o.StateCache = 100_000
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 1 << 20
	}
	if o.MaxAlerts <= 0 {
		o.MaxAlerts = 1000
	}
	if o.MaxEvidence <= 0 {
		o.MaxEvidence = 10_000
	}
	if o.ApprovalTimeout <= 0 {
		o.ApprovalTimeout = 24 * time.Hour
	}
	if o.FutureSkew <= 0 {
		o.FutureSkew = 5 * time.Minute
	}
	return &Worker{opts: o, graph: o.Graph, log: o.Log, metrics: o.Metrics, now: o.Now,
		states: newStateStore(o.State, o.StateCache), tracer: tracing.OrNoop(o.Tracer).Tracer(tracing.Scope + "/internal/worker")}, nil
}

// Release forgets what the worker keeps in memory of a partition's
// incidents (their state is stored first): another replica owns them now.
func (w *Worker) Release(partition string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.states.release(ctx, partition); err != nil {
		w.log.Warn("incident state not stored at release", "partition", partition, "err", err)
	}
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

// claimBudget empties the tenant's Graph budgets the first time the tenant
// is handled under a partition epoch (a new owner of its partition), so that
// this replica and the previous owner together stay within the budget.
func (w *Worker) claimBudget(tenant string, epoch uint64) {
	if v, ok := w.epochs.Load(tenant); ok && v.(uint64) >= epoch {
		return
	}
	w.epochs.Store(tenant, epoch)
	w.graph.ClaimBudget(tenant)
}
