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
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/poller"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/worker"
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
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the worker: incident events from NATS JetStream to Graph writes",
		Long: `Consume incident change events from NATS JetStream, evaluate the rules and
carry out the plans as Microsoft Graph writes. Without --nats-url an embedded
NATS server with JetStream stores its data in --data-dir. SIGHUP reloads the
rules (as does any change to their files); SIGTERM drains and exits.`,
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
			return runWorker(cmd.Context(), cfg, f.embedListen, poll, s)
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
	return cmd
}

// services are the running parts of a graphsoar process, built explicitly.
type services struct {
	log      *slog.Logger
	metrics  *telemetry.Metrics
	embedded *broker.Embedded
	nc       *nats.Conn
	js       jetstream.JetStream
	graph    *graph.Client
	http     *telemetry.Server
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
	var opts []nats.Option
	if cfg.NATS.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATS.Creds))
	}
	nc, err := broker.Connect(url, name, sv.log, opts...)
	if err != nil {
		return err
	}
	sv.nc = nc
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

// graphClient builds the Graph client, reporting requests to the metrics.
func graphClient(cfg config.Config, sv *services) (*graph.Client, error) {
	m := sv.metrics
	return graph.New(cfg.GraphConfig(), graph.WithLogger(sv.log), graph.WithObserver(func(e graph.RequestEvent) {
		m.GraphRequests.WithLabelValues(e.Op, strconv.Itoa(e.Status)).Inc()
		m.GraphLatency.WithLabelValues(e.Op).Observe(e.Duration.Seconds())
		if e.Attempt > 1 {
			m.GraphRetries.WithLabelValues(e.Op).Inc()
		}
	}))
}

func runWorker(ctx context.Context, cfg config.Config, embedListen string, poll bool, s stdio) error {
	log, err := telemetry.NewLogger(s.err, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	sv := &services{log: log, metrics: telemetry.NewMetrics()}
	defer sv.close()
	if w := cfg.GraphConfig().LegacyWarning(); w != "" {
		log.Warn(w)
	}
	reloader, err := worker.NewReloader(cfg.Rules, actions.Builtin(), log, sv.metrics)
	if err != nil {
		var le *rules.LoadError
		if errors.As(err, &le) {
			return &exitError{code: 1, err: fmt.Errorf("rules not valid:\n%w", err)}
		}
		return err
	}
	if err := connect(cfg, embedListen, "graphsoar-worker", sv); err != nil {
		return err
	}
	topo := cfg.Topology()
	buckets, err := prepare(ctx, sv.js, topo, cfg.NATS.Create)
	if err != nil {
		return err
	}
	if sv.graph, err = graphClient(cfg, sv); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("graph: %w", err)}
	}
	wid := cfg.Worker.ID
	if wid == "" {
		host, _ := os.Hostname()
		wid = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	refresh := cfg.Worker.Refresh
	w, err := worker.New(worker.Options{
		JS: sv.js, Topology: topo, Buckets: buckets, Rules: reloader, Graph: sv.graph, Log: log, Metrics: sv.metrics,
		ID: wid, Identity: cfg.Worker.Identity, Concurrency: cfg.Worker.Concurrency, DryRun: cfg.Worker.DryRun, Refresh: &refresh,
		ActionBudget: cfg.Worker.ActionBudget, EventTimeout: cfg.Worker.EventTimeout, DrainTimeout: cfg.Worker.DrainTimeout,
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
	if err := serve(cfg, sv, w.Ready); err != nil {
		return err
	}

	waitWatch, err := reloader.Watch(ctx)
	if err != nil {
		return fmt.Errorf("watch rules: %w", err)
	}
	defer waitWatch()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = reloader.Reload()
			}
		}
	}()

	var pollDone chan error
	if producer != nil {
		pollDone = make(chan error, 1)
		go func() { pollDone <- producer.Run(ctx) }()
	}
	if err := w.Run(ctx); err != nil {
		// The drain ran out of time: the events left are redelivered.
		log.Warn("drain incomplete", "err", err)
	}
	if pollDone != nil {
		if err := <-pollDone; err != nil {
			log.Warn("producer stopped", "err", err)
		}
	}
	return nil
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
		if !sv.nc.IsConnected() {
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
