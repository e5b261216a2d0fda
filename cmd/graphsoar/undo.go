package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/replay/streamsrc"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/undo"
)

func newUndoCmd(getenv func(string) string, s stdio) *cobra.Command {
	var (
		f                               commonFlags
		rule, incidentID, since, format string
		dryRun                          bool
	)
	cmd := &cobra.Command{
		Use:   "undo --rule ID [--incident ID] [--since T] [--dry-run]",
		Short: "Reverse what a rule did, from the audit trail",
		Long: `Read the rule's applied actions from the audit stream and reverse them on each
incident: PATCHed properties go back to their earlier values where Graph still
shows the rule's value (a later change by someone else is left alone;
classification and determination go back together), the tags it added are
removed, the indicators it created are deleted (legacy security actions
cancelled) with the worker's record of having blocked the hash (so a rule can
block it again), and one correction comment per incident says what was
reverted and what was left alone (a comment cannot be deleted in Graph).

Undo reaches back only as far as the audit stream keeps records
(` + auditKept() + `):
older actions of the rule are not seen, and are not undone.

Each step is printed with its result and audited on graphsoar.audit.<tenant>.<incident>
(actions undo_patch, undo_tag, undo_block, undo_comment); a second run does
not undo the same records again. A run stopped between a write and its audit
record (a crash, NATS unreachable) is finished by the next run, which finds
that write already made: a property already back to its value from before
the rule is reported "already back" (whoever put it back), tags "already
removed", an indicator "no indicator any more". --dry-run reads Graph and
prints the steps, writing nothing. Disable the rule first: a running worker
would apply it again on the incident's next event. Exit 1 when a step failed.

Graph, tenants and NATS come from the same configuration and flags as run;
without --nats-url, undo connects to --embedded-listen (where run's embedded
server listens).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rule == "" {
				return &exitError{code: 2, err: errors.New("--rule is required")}
			}
			if format != "text" && format != "json" {
				return &exitError{code: 2, err: fmt.Errorf("--format: %q is not text or json", format)}
			}
			from, err := streamsrc.ParseTime(since, time.Now())
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--since: %w", err)}
			}
			cfg, err := f.load(cmd, getenv)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := cfg.Validate(); err != nil {
				return &exitError{code: 2, err: err}
			}
			log, err := telemetry.NewLogger(s.err, cfg.Log.Format, cfg.Log.Level)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			g, err := graphClient(cfg, &services{log: log, metrics: telemetry.NewMetrics()}, "graphsoar-undo")
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("graph: %w", err)}
			}
			url := cfg.NATS.URL
			if url == "" {
				url = "nats://" + f.embedListen
			}
			nc, err := cfg.NATS.Auth().Dial(url, "graphsoar-undo")
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := jetstream.New(nc)
			if err != nil {
				return fmt.Errorf("jetstream: %w", err)
			}
			ctx := cmd.Context()
			recs, unreadable, err := undo.Read(ctx, js, cfg.Topology().AuditStream, undo.Filter{Rule: rule, Incident: incidentID, Since: from})
			if err != nil {
				return err
			}
			if unreadable > 0 {
				fmt.Fprintf(s.err, "%d audit record(s) could not be read and were skipped\n", unreadable)
			}
			host, _ := os.Hostname()
			o := undo.Options{Graph: g, Audit: broker.JetStreamPublisher{JS: js}, DryRun: dryRun,
				ID: fmt.Sprintf("graphsoar-undo@%s-%d", host, os.Getpid())}
			if !dryRun {
				bucket := cfg.Topology().EffectsBucket
				effects, err := js.KeyValue(ctx, bucket)
				if err != nil {
					return fmt.Errorf("open the idempotency bucket %s: %w", bucket, err)
				}
				o.Effects = kv.JetStream(effects)
			}
			u, err := undo.New(o)
			if err != nil {
				return err
			}
			rep := undo.Report{Rule: rule, DryRun: dryRun, Incidents: []undo.Outcome{}}
			for _, p := range undo.Plans(recs, rule, string(cfg.GraphConfig().Defender.BlockWith)) {
				rep.Incidents = append(rep.Incidents, u.Undo(ctx, p))
			}
			if format == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.WriteText(s.out)
			}
			if err != nil {
				return err
			}
			c := rep.Counts()
			if len(rep.Incidents) == 0 {
				fmt.Fprintf(s.err, "no applied action of rule %s in the audit trail\n", rule)
			} else {
				fmt.Fprintf(s.err, "%d incident(s): %d step(s) applied, %d planned, %d skipped, %d failed\n",
					len(rep.Incidents), c.Applied, c.Planned, c.Skipped, c.Failed+c.Stopped)
			}
			if rep.Failed() {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	f.register(fl)
	// The worker's flags that undo has no use for.
	for _, name := range []string{"data-dir", "stream", "subject", "partitions", "no-create", "tenant", "listen"} {
		_ = fl.MarkHidden(name)
	}
	fl.Lookup("nats-url").Usage = "NATS servers (comma-separated); empty: the embedded server of graphsoar run at --embedded-listen"
	fl.StringVar(&rule, "rule", "", "the rule whose changes to reverse (required)")
	fl.StringVar(&incidentID, "incident", "", "only this incident")
	fl.StringVar(&since, "since", "", "only audit records stored since: RFC 3339, a date, or a duration before now (24h)")
	fl.BoolVar(&dryRun, "dry-run", false, "print the steps and write nothing")
	fl.StringVar(&format, "format", "text", "text or json")
	return cmd
}

// auditKept says how long the audit stream keeps records by default.
func auditKept() string {
	t := broker.DefaultTopology()
	return fmt.Sprintf("%s, whose max age is %d days by default", t.AuditStream, int(t.AuditMaxAge.Hours()/24))
}
