package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/secret"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/worker"
	starter "github.com/graphsoar/graphsoar/rules"
)

// demoIncidents are the fixtures the emulator starts with and the demo
// publishes, in order.
var demoIncidents = []string{"ransomware-created.json", "redteam-created.json", "phishing-created.json"}

// demoApprovalRule is the demo's own rule, loaded beside the starter rules:
// it holds an action for approval, for the live page to show.
//
//go:embed demo-approval.yaml
var demoApprovalRule []byte

// demoPageListen is where demo --serve serves the live page by default.
const demoPageListen = "127.0.0.1:9090"

type demoOptions struct {
	rulesDir    string
	serve       bool
	natsListen  string
	graphListen string
	listen      string
	uiToken     string
	timeout     time.Duration
}

func newDemoCmd(s stdio) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See graphsoar work: embedded NATS, the Graph emulator, the starter rules and sample incidents",
		Long: `Start an embedded NATS server with JetStream and the Graph emulator seeded with
sample Defender XDR incidents, run the worker with the starter rules, publish
the incidents' events and show what happened to each: the rules that matched,
every Graph write with its result, and the final state of each incident.

--rules runs your own rules instead of the starter rules built into the
binary (and the demo's rule that holds an action for approval). --serve keeps
everything running afterwards (NATS on 127.0.0.1:4222, the emulator on
127.0.0.1:8081, the live page on http://127.0.0.1:9090/) and shows each event
you publish, for example with graphsoar publish or the NATS CLI. On the live
page, approve the held action and replay the dead letter.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !o.serve {
				if !cmd.Flags().Changed("nats-listen") {
					o.natsListen = "127.0.0.1:0"
				}
				if !cmd.Flags().Changed("graph-listen") {
					o.graphListen = "127.0.0.1:0"
				}
			} else if !cmd.Flags().Changed("listen") {
				o.listen = demoPageListen
			}
			return runDemo(cmd.Context(), o, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.rulesDir, "rules", "", "rules directory (default: the starter rules built into graphsoar)")
	f.BoolVar(&o.serve, "serve", false, "keep running after the demo and show the events you publish")
	f.StringVar(&o.natsListen, "nats-listen", "127.0.0.1:4222", "embedded NATS address (with --serve; a free port otherwise)")
	f.StringVar(&o.graphListen, "graph-listen", "127.0.0.1:8081", "Graph emulator address (with --serve; a free port otherwise)")
	f.StringVar(&o.listen, "listen", "", "address of the live page, /metrics, /healthz and /readyz (with --serve: "+demoPageListen+"; none otherwise)")
	f.StringVar(&o.uiToken, "ui-token", "", uiTokenHelp)
	f.DurationVar(&o.timeout, "timeout", 2*time.Minute, "how long the demo waits for the worker to handle one event")
	return cmd
}

// demoRules loads the rules of dir, or the embedded starter rules with the
// demo's approval rule (written beside a copy of them in tmp).
func demoRules(dir, tmp string, log *slog.Logger, m *telemetry.Metrics) (worker.RuleSource, *rules.Reloader, string, error) {
	reg := actions.Builtin()
	if dir == "" {
		dir := filepath.Join(tmp, "rules")
		if err := os.CopyFS(dir, starter.FS()); err != nil {
			return nil, nil, "", fmt.Errorf("starter rules: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "demo-approval.yaml"), demoApprovalRule, 0o644); err != nil {
			return nil, nil, "", fmt.Errorf("starter rules: %w", err)
		}
		rs, err := rules.LoadFS(os.DirFS(dir), ".", "rules", reg)
		if err != nil {
			return nil, nil, "", err
		}
		return rules.Static{RS: rs}, nil, "the starter rules built into graphsoar and the demo's approval rule", nil
	}
	r, err := rules.NewReloader(dir, reg, log, m.ObserveRules)
	if err != nil {
		return nil, nil, "", err
	}
	return r, r, dir + " (reloaded when a file changes)", nil
}

func runDemo(ctx context.Context, o demoOptions, s stdio) error {
	log, err := telemetry.NewLogger(s.err, "text", "warn")
	if err != nil {
		return err
	}
	sv := &services{log: log, metrics: telemetry.NewMetrics()}
	defer sv.close()
	defer sv.startTracing(ctx, "graphsoar-demo")()
	dir, err := os.MkdirTemp("", "graphsoar-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	source, reloader, rulesFrom, err := demoRules(o.rulesDir, dir, log, sv.metrics)
	if err != nil {
		var le *rules.LoadError
		if errors.As(err, &le) {
			return &exitError{code: 1, err: fmt.Errorf("rules not valid:\n%w", err)}
		}
		return err
	}

	fake := graphfake.New(graphfake.Options{Open: true})
	for _, name := range demoIncidents {
		if err := fake.Seed(fixtures.Read(name)); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	graphURL, stopGraph, err := fake.Start(o.graphListen)
	if err != nil {
		return fmt.Errorf("graph emulator: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopGraph(sctx)
	}()

	cfg := demoConfig(filepath.Join(dir, "nats"), graphURL, o.listen)
	if err := connect(cfg, o.natsListen, "graphsoar-demo", sv); err != nil {
		return err
	}
	topo := cfg.Topology()
	buckets, err := prepare(ctx, sv.js, topo, true)
	if err != nil {
		return err
	}
	if sv.graph, err = graphClient(cfg, sv, ""); err != nil {
		return err
	}

	rep := newDemoReporter(s.out, fake, sv.nc)
	audits := make(chan *nats.Msg, 4096)
	sub, err := sv.nc.ChanSubscribe("graphsoar.audit.>", audits)
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	rep.audits = audits
	rep.reg = source.Current().Registry()
	rep.blockWith = sv.graph.BlockWith()

	w, err := replica.New(replica.Options{
		JS: sv.js, Topology: topo, Buckets: buckets, Rules: source, Graph: sv.graph, Log: log, Metrics: sv.metrics,
		ID: "demo", Concurrency: 8, Create: true, OnSettled: rep.settledHook(), Tracer: sv.tracer,
	})
	if err != nil {
		return err
	}
	if err := serve(cfg, sv, w.Ready); err != nil {
		return err
	}
	stopPage, err := startLivePage(ctx, sv, livePage{topo: topo, rules: source, approvals: w.Approvals,
		token: secret.Secret(o.uiToken), listen: o.listen})
	if err != nil {
		return err
	}
	defer stopPage()
	rep.approvals = w.Approvals
	runCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(runCtx) }()
	defer func() {
		stopWorker()
		<-workerDone
	}()
	if err := waitReady(ctx, w, 30*time.Second); err != nil {
		return err
	}
	if reloader != nil {
		waitWatch, err := reloader.Watch(runCtx)
		if err != nil {
			return fmt.Errorf("watch rules: %w", err)
		}
		defer func() {
			stopWorker()
			waitWatch()
		}()
	}

	rep.header(sv.nc.ConnectedUrl(), graphURL, rulesFrom, len(source.Current().Rules()))
	pub := &publisher{js: sv.js, subject: "security.incidents", out: s.out, errOut: s.err}
	if err := rep.script(ctx, pub, o.timeout); err != nil {
		return err
	}
	rep.finalState()
	if !o.serve {
		return nil
	}
	pageURL := ""
	if sv.http != nil {
		pageURL = "http://" + sv.http.Addr() + "/"
	}
	rep.serveHelp(sv.nc.ConnectedUrl(), graphURL, pageURL, o.uiToken != "")
	return rep.follow(ctx)
}

// demoConfig is the configuration of the demo's worker: embedded NATS in dir,
// the emulator at graphURL with its emulator token.
func demoConfig(dir, graphURL, listen string) config.Config {
	cfg := config.Default()
	cfg.NATS.DataDir = dir
	cfg.Graph = graph.Config{Root: graphURL, Default: &graph.Credential{Auth: graph.AuthNone}}
	cfg.Defender = graph.Defender{URL: graphURL} // the emulator serves the indicators API too
	cfg.Listen = listen
	return cfg
}

// waitReady polls the worker until it consumes its partitions.
func waitReady(ctx context.Context, w interface{ Ready(context.Context) error }, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := w.Ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker not ready after %v: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
