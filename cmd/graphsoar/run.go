package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/ctxtime"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/poller"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/secret"
	"github.com/graphsoar/graphsoar/internal/telemetry"
)

func newRunCmd(getenv func(string) string, s stdio) *cobra.Command {
	var (
		f           commonFlags
		rulesDir    string
		dryRun      bool
		concurrency int
		consumer    string
		id          string
		poll        bool
		uiToken     string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the worker: incident events from NATS JetStream to Graph writes",
		Long: `Consume incident change events from NATS JetStream, evaluate the rules and
carry out the plans as Microsoft Graph writes. Without --nats-url an embedded
NATS server with JetStream stores its data in --data-dir. SIGHUP reloads the
rules (as does any change to their files); SIGTERM drains and exits.

--listen also serves the live page at / : recent events and writes, dead
letters (replay), held actions (approve, reject), rules and Graph budgets.
With --ui-token (GRAPHSOAR_UI_TOKEN) the page and its API require the token;
without one, the page is served on a loopback address only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd, getenv)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if cmd.Flags().Changed("rules") {
				cfg.Rules = rulesDir
			}
			if cmd.Flags().Changed("dry-run") {
				cfg.Worker.DryRun = dryRun
			}
			if cmd.Flags().Changed("concurrency") {
				cfg.Worker.Concurrency = concurrency
			}
			if cmd.Flags().Changed("consumer") {
				cfg.NATS.Consumer = consumer
			}
			if cmd.Flags().Changed("id") {
				cfg.Worker.ID = id
			}
			if err := cfg.Validate(); err != nil {
				return &exitError{code: 2, err: err}
			}
			tuneGC(getenv)
			return runWorker(cmd.Context(), cfg, f.embedListen, poll, secret.Secret(uiToken), s)
		},
	}
	fl := cmd.Flags()
	f.register(fl)
	fl.StringVar(&rulesDir, "rules", "rules", "rules directory")
	fl.BoolVar(&dryRun, "dry-run", false, "evaluate and audit plans without writing to Graph (own consumer and state)")
	fl.IntVar(&concurrency, "concurrency", 32, "events handled at once")
	fl.StringVar(&consumer, "consumer", "graphsoar", "durable consumer name (prefix of the partition consumers)")
	fl.StringVar(&id, "id", "", "replica id (default: host name and process id)")
	fl.BoolVar(&poll, "poll", false, "also run the incident producer (graphsoar poll) in this process")
	fl.StringVar(&uiToken, "ui-token", "", uiTokenHelp)
	return cmd
}

// services are the running parts of a graphsoar process, built explicitly.
type services struct {
	log      *slog.Logger
	metrics  *telemetry.Metrics
	embedded *broker.Embedded
	nc       *nats.Conn
	conn     atomic.Pointer[nats.Conn] // nc, for the health checks that run meanwhile
	js       jetstream.JetStream
	graph    *graph.Client
	http     *telemetry.Server
	tracer   trace.TracerProvider // see startTracing
}

// connect starts the embedded NATS server when no URL is configured, and
// connects.
func connect(cfg config.Config, embedListen, name string, sv *services) error {
	url := cfg.NATS.URL
	if url == "" {
		host, portStr, err := net.SplitHostPort(embedListen)
		if err != nil {
			return fmt.Errorf("--embedded-listen: %w", err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return fmt.Errorf("--embedded-listen: %w", err)
		}
		emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Dir: cfg.NATS.DataDir, Host: host, Port: port})
		if err != nil {
			return err
		}
		sv.embedded = emb
		url = emb.URL()
		sv.log.Info("embedded NATS server with JetStream", "url", url, "store", cfg.NATS.DataDir)
	}
	// A replica started before its NATS servers waits for them (not ready
	// meanwhile) instead of exiting.
	nc, err := cfg.NATS.Auth().Connect(url, name, sv.log, nats.RetryOnFailedConnect(true))
	if err != nil {
		return err
	}
	sv.nc = nc
	sv.conn.Store(nc)
	sv.js, err = jetstream.New(nc)
	return err
}

// close stops what connect and serve started, in reverse order.
func (sv *services) close() {
	if sv.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = sv.http.Shutdown(ctx)
		cancel()
	}
	if sv.nc != nil {
		_ = sv.nc.Drain()
		for i := 0; i < 100 && !sv.nc.IsClosed(); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		sv.nc.Close()
	}
	if sv.embedded != nil {
		sv.embedded.Shutdown()
	}
}

// graphClient builds the Graph client, reporting requests to the metrics;
// id, when set, names the replica in the User-Agent of its requests.
func graphClient(cfg config.Config, sv *services, id string) (*graph.Client, error) {
	m := sv.metrics
	return graph.New(cfg.GraphConfig(), graph.WithLogger(sv.log), graph.WithUserAgent(id), graph.WithTracerProvider(sv.tracer), graph.WithObserver(func(e graph.RequestEvent) {
		m.GraphRequests.WithLabelValues(e.Op, strconv.Itoa(e.Status)).Inc()
		m.GraphLatency.WithLabelValues(e.Op).Observe(e.Duration.Seconds())
		if e.Attempt > 1 {
			m.GraphRetries.WithLabelValues(e.Op).Inc()
		}
	}))
}

func runWorker(ctx context.Context, cfg config.Config, embedListen string, poll bool, uiToken secret.Secret, s stdio) error {
	log, err := telemetry.NewLogger(s.err, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	sv := &services{log: log, metrics: telemetry.NewMetrics()}
	defer sv.close()
	defer sv.startTracing(ctx, "graphsoar")()
	if w := cfg.GraphConfig().LegacyWarning(); w != "" {
		log.Warn(w)
	}
	// The rules' cost bound assumes the worker's input bounds.
	reloader, err := rules.NewReloader(cfg.Rules, actions.Builtin(), log, sv.metrics.ObserveRules, rules.WithInputBounds(rules.Bounds{
		Alerts: cfg.Worker.MaxAlerts, Evidence: cfg.Worker.MaxEvidence, Bytes: cfg.Worker.MaxEventBytes}))
	if err != nil {
		var le *rules.LoadError
		if errors.As(err, &le) {
			return &exitError{code: 1, err: fmt.Errorf("rules not valid:\n%w", err)}
		}
		return err
	}
	wid := cfg.Worker.ID
	if wid == "" {
		host, _ := os.Hostname()
		wid = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if sv.graph, err = graphClient(cfg, sv, wid); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("graph: %w", err)}
	}
	// Health first: /healthz answers while NATS is still out of reach, and
	// /readyz says why the replica is not ready yet.
	var rep atomic.Pointer[replica.Replica]
	if err := serve(cfg, sv, func(ctx context.Context) error {
		r := rep.Load()
		if r == nil {
			return errors.New("starting: waiting for NATS and the stream")
		}
		return r.Ready(ctx)
	}); err != nil {
		return err
	}
	if err := connect(cfg, embedListen, "graphsoar-worker", sv); err != nil {
		return err
	}
	topo := cfg.Topology()
	buckets, err := prepareWithRetry(ctx, sv, topo, cfg.NATS.Create)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	refresh := cfg.Worker.Refresh
	r, err := replica.New(replica.Options{
		JS: sv.js, Topology: topo, Buckets: buckets, Rules: reloader, Graph: sv.graph, Log: log, Metrics: sv.metrics,
		ID: wid, Identity: cfg.Worker.Identity, Concurrency: cfg.Worker.Concurrency, DryRun: cfg.Worker.DryRun, Refresh: &refresh,
		ActionBudget: cfg.Worker.ActionBudget, EventTimeout: cfg.Worker.EventTimeout, DrainTimeout: cfg.Worker.DrainTimeout,
		RetryBudget: cfg.Worker.RetryBudget, Create: cfg.NATS.Create, ApprovalTimeout: cfg.Worker.ApprovalTimeout,
		MaxEventBytes: cfg.Worker.MaxEventBytes, MaxAlerts: cfg.Worker.MaxAlerts, MaxEvidence: cfg.Worker.MaxEvidence, Tracer: sv.tracer,
	})
	if err != nil {
		return err
	}
	var producer *poller.Poller
	if poll {
		// Built before anything starts, so a producer that cannot run (no
		// tenants) stops the process at once instead of failing unseen.
		if producer, err = newPoller(ctx, cfg, sv, ""); err != nil {
			return err
		}
	}
	rep.Store(r)
	stopPage, err := startLivePage(ctx, sv, livePage{topo: topo, rules: reloader, approvals: r.Approvals, token: uiToken, listen: cfg.Listen})
	if err != nil {
		return err
	}
	defer stopPage()

	waitWatch, err := reloader.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watch rules: %w", err)
	}
	defer waitWatch()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var side sync.WaitGroup
	defer side.Wait()
	side.Add(1)
	go func() {
		defer side.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = reloader.Reload()
			}
		}
	}()
	if producer != nil {
		side.Add(1)
		go func() {
			defer side.Done()
			if err := producer.Run(ctx); err != nil {
				log.Warn("producer stopped", "err", err)
			}
		}()
	}
	return r.Run(ctx)
}

// prepareWithRetry creates (or checks) the topology, trying again with
// backoff while NATS or JetStream is not there yet (a replica started before
// its NATS cluster, two replicas creating one R3 stream at once), until ctx
// ends. A topology that exists but does not fit (creation off) is fatal.
func prepareWithRetry(ctx context.Context, sv *services, topo broker.Topology, create bool) (broker.Buckets, error) {
	wait := 250 * time.Millisecond
	for {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		b, err := prepare(pctx, sv.js, topo, create)
		cancel()
		if err == nil {
			return b, nil
		}
		if ctx.Err() != nil {
			return broker.Buckets{}, ctx.Err()
		}
		if errors.Is(err, broker.ErrTopologyMismatch) {
			return broker.Buckets{}, err
		}
		sv.log.Warn("NATS or the stream is not ready; trying again", "err", err, "in", wait)
		if err := ctxtime.Sleep(ctx, wait); err != nil {
			return broker.Buckets{}, err
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// prepare creates (or checks) the stream, consumers, side streams and buckets.
func prepare(ctx context.Context, js jetstream.JetStream, topo broker.Topology, create bool) (broker.Buckets, error) {
	if err := broker.EnsureStream(ctx, js, topo, create); err != nil {
		return broker.Buckets{}, err
	}
	if err := broker.EnsureConsumers(ctx, js, topo, create); err != nil {
		return broker.Buckets{}, err
	}
	if !create {
		return broker.OpenBuckets(ctx, js, topo)
	}
	if err := broker.EnsureSideStreams(ctx, js, topo); err != nil {
		return broker.Buckets{}, err
	}
	return broker.EnsureBuckets(ctx, js, topo)
}

// serve starts /metrics, /healthz and /readyz when an address is configured.
func serve(cfg config.Config, sv *services, ready telemetry.Check) error {
	if cfg.Listen == "" {
		return nil
	}
	srv := telemetry.NewServer(sv.metrics, sv.log)
	srv.AddCheck("nats", func(context.Context) error {
		if nc := sv.conn.Load(); nc == nil || !nc.IsConnected() {
			return errors.New("not connected")
		}
		return nil
	})
	if ready != nil {
		srv.AddCheck("worker", ready)
	}
	if err := srv.Start(cfg.Listen); err != nil {
		return err
	}
	sv.http = srv
	sv.log.Info("serving metrics and health", "addr", srv.Addr())
	return nil
}
