// Package ui is graphsoar's live page: one page, served from files embedded
// in the binary, that shows what the worker does as it does it (the recent
// events with their matched rules and each write with its result), the dead
// letters with a replay button, the actions awaiting approval with approve
// and reject, the rules loaded with their match counts and each tenant's
// Graph budget use.
//
// The page follows the audit stream (graphsoar.audit.<tenant>.<incident>) with
// an ordered consumer, so it shows every replica's work, and pushes what it
// learns to the browser as server-sent events (/api/stream). A small JSON API
// under /api/ serves the same state and takes the operator's actions.
package ui

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/secret"
)

// Approvals is the store of held actions the page lists and decides on.
type Approvals interface {
	List(ctx context.Context) ([]approval.Record, error)
	Approve(ctx context.Context, id, by string) (approval.Record, error)
	Reject(ctx context.Context, id, by string) (approval.Record, error)
}

// RuleSource is the active rule set (a rules.Reloader, or rules.Static).
type RuleSource interface{ Current() *rules.RuleSet }

// Budgets reports the Graph budget use of each tenant (a graph.Client).
type Budgets interface{ BudgetUse() []graph.BudgetUse }

// Options configure a Page. JS, AuditStream and DLQStream are required; a
// nil Rules, Approvals or Budgets leaves its section empty.
type Options struct {
	JS          jetstream.JetStream
	AuditStream string // GRAPHSOAR_AUDIT
	DLQStream   string // GRAPHSOAR_DLQ
	Rules       RuleSource
	Approvals   Approvals
	// ApprovalsBucket, when set, is the key-value bucket Approvals keeps
	// its records in (graphsoar-approvals): the page reads the approvals
	// again when the bucket changed. Without it, it reads them when an
	// audit record or the page's own action says they changed, and every
	// FullRefresh.
	ApprovalsBucket string
	Budgets         Budgets
	// Token, when set, is required by the page and its API (see Handler);
	// without it the page answers only requests addressed to a loopback host.
	Token secret.Secret
	Log   *slog.Logger
	// Events is how many recent events the page keeps (default 200);
	// Backlog how many audit records it reads from before its start
	// (default 2000). While a browser watches, every Refresh (default 2s)
	// the page reads the rules and budgets and looks at the state of the
	// dead-letter stream and of ApprovalsBucket, reading the dead letters
	// or the approvals again when it changed, and every FullRefresh
	// (default 30s) whatever it is.
	Events      int
	Backlog     int
	Refresh     time.Duration
	FullRefresh time.Duration
	// WriteTimeout bounds each write to an open stream (default 10s): a
	// browser that stops reading is dropped within it, and its handler
	// ends even if the server's shutdown does not wait for it.
	WriteTimeout time.Duration
}

// Page is the live page. Build it with New, serve it with Handler and keep
// it current with Run.
type Page struct {
	o    Options
	log  *slog.Logger
	feed *feed
	hub  *hub
	// kick asks the refresher for an early refresh (an action was taken,
	// a dead letter arrived, a browser came).
	kick chan struct{}
	// mu guards last, the JSON of each section as last sent, and stale,
	// the sections to read at the next refresh whatever their state.
	mu    sync.Mutex
	last  map[string][]byte
	stale map[string]bool
}

// New builds a page.
func New(o Options) (*Page, error) {
	switch {
	case o.JS == nil:
		return nil, errors.New("live page: no JetStream")
	case o.AuditStream == "" || o.DLQStream == "":
		return nil, errors.New("live page: the audit and dead-letter streams must be named")
	}
	if o.Events <= 0 {
		o.Events = 200
	}
	if o.Backlog <= 0 {
		o.Backlog = 2000
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.FullRefresh <= 0 {
		o.FullRefresh = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Page{o: o, log: log, feed: newFeed(o.Events), hub: newHub(), kick: make(chan struct{}, 1),
		last: map[string][]byte{}, stale: map[string]bool{}}, nil
}

// Run follows the audit stream and refreshes the other sections until ctx
// ends; then it ends every open stream of the page and returns. Requests
// served before Run starts see an empty page.
func (p *Page) Run(ctx context.Context) error {
	defer p.hub.close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.followAudit(ctx)
	}()
	go func() {
		defer wg.Done()
		p.refreshLoop(ctx)
	}()
	wg.Wait()
	return nil
}

// Handler serves the page at / and its API under /api/, behind the token
// check and the cross-origin protection (see auth.go).
func (p *Page) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", staticFile("index.html"))
	mux.Handle("GET /app.js", staticFile("app.js"))
	mux.Handle("GET /app.css", staticFile("app.css"))
	mux.HandleFunc("GET /api/stream", p.stream)
	mux.HandleFunc("GET /api/state", p.state)
	mux.HandleFunc("GET /api/dlq", p.deadLetters)
	mux.HandleFunc("POST /api/dlq/{seq}/replay", p.replay)
	mux.HandleFunc("GET /api/approvals", p.approvals)
	mux.HandleFunc("POST /api/approvals/{id}/{decision}", p.decide)
	return p.guard(mux)
}
