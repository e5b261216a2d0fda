package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/poller"
	"github.com/graphsoar/graphsoar/internal/telemetry"
)

func newPollCmd(getenv func(string) string, s stdio) *cobra.Command {
	var (
		f        commonFlags
		interval time.Duration
		since    string
		once     bool
		id       string
	)
	cmd := &cobra.Command{
		Use:   "poll",
		Short: "Produce incident events: poll Graph for changed incidents and publish them to NATS",
		Long: `Poll GET /security/incidents?$filter=lastUpdateDateTime ge {watermark}&$expand=alerts
for each tenant and publish one CloudEvent per changed incident to
security.incidents.<tenant>.<incident>, with Nats-Msg-Id <tenant>:<incident>:<lastUpdateDateTime>.
The watermark of each tenant is kept in JetStream and moves only after the
events were acknowledged. --once makes one pass over every tenant and exits:
0 when every tenant was polled, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.load(cmd, getenv)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if cmd.Flags().Changed("interval") {
				cfg.Poll.Interval = interval
			}
			if since != "" {
				t, err := time.Parse(time.RFC3339, since)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--since: %w", err)}
				}
				cfg.Poll.Since = t
			}
			if err := cfg.Validate(); err != nil {
				return &exitError{code: 2, err: err}
			}
			log, err := telemetry.NewLogger(s.err, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			sv := &services{log: log, metrics: telemetry.NewMetrics()}
			defer sv.close()
			defer sv.startTracing(cmd.Context(), "graphsoar-poll")()
			if err := connect(cfg, f.embedListen, "graphsoar-poll", sv); err != nil {
				return err
			}
			if sv.graph, err = graphClient(cfg, sv, ""); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("graph: %w", err)}
			}
			if err := serve(cfg, sv, nil); err != nil {
				return err
			}
			ctx := cmd.Context()
			topo := cfg.Topology()
			if err := broker.EnsureStream(ctx, sv.js, topo, cfg.NATS.Create); err != nil {
				return err
			}
			p, err := newPoller(ctx, cfg, sv, id)
			if err != nil {
				return err
			}
			if once {
				err := p.Pass(ctx)
				// The next producer (or poll --once) must not wait out our
				// leases.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				p.Release(rctx)
				cancel()
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				return nil
			}
			return p.Run(ctx)
		},
	}
	fl := cmd.Flags()
	f.register(fl)
	fl.DurationVar(&interval, "interval", 30*time.Second, "time between passes")
	fl.StringVar(&since, "since", "", "where a tenant without a watermark starts (RFC 3339; default now minus one interval)")
	fl.BoolVar(&once, "once", false, "one pass over every tenant, then exit")
	fl.StringVar(&id, "id", "", "producer id in leases (default: host name and process id)")
	return cmd
}

// newPoller builds the producer on the services' NATS connection and Graph
// client (graphsoar poll, and graphsoar run --poll).
func newPoller(ctx context.Context, cfg config.Config, sv *services, id string) (*poller.Poller, error) {
	topo := cfg.Topology()
	state, err := broker.EnsurePollBucket(ctx, sv.js, topo, cfg.Poll.Bucket)
	if err != nil {
		return nil, err
	}
	coord, err := broker.EnsureCoordBucket(ctx, sv.js, topo)
	if err != nil {
		return nil, err
	}
	if id == "" {
		host, _ := os.Hostname()
		id = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	tenants := cfg.PollTenants()
	if len(tenants) == 0 {
		return nil, &exitError{code: 2, err: errors.New("no tenants to poll: give --tenant, or list tenants in the config file")}
	}
	return poller.New(poller.Options{
		JS: sv.js, Graph: sv.graph, Tenants: tenants, Subject: strings.TrimSuffix(cfg.NATS.Subject, ".>"),
		State: state, Coord: coord, ID: id, LeaseTTL: topo.LeaseTTL, Interval: cfg.Poll.Interval, Since: cfg.Poll.Since,
		PageSize: cfg.Poll.PageSize, Log: sv.log.With("component", "poll"), Metrics: sv.metrics, Tracer: sv.tracer,
	})
}
