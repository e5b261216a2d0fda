package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/kv"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// approvalFlags are the flags the approvals commands share.
type approvalFlags struct {
	nats   natsFlags
	bucket string
	by     string
	format string
}

func (f *approvalFlags) register(cmd *cobra.Command, decide bool) {
	fl := cmd.Flags()
	f.nats.register(fl, "nats://127.0.0.1:4222", "NATS servers")
	fl.StringVar(&f.bucket, "bucket", broker.DefaultTopology().ApprovalsBucket, "key-value bucket of the held actions")
	if decide {
		fl.StringVar(&f.by, "by", "", "who decides (default: the user name); recorded and audited")
	} else {
		fl.StringVar(&f.format, "format", "text", "text or json")
	}
}

// store opens the approvals bucket the worker made.
func (f *approvalFlags) store(cmd *cobra.Command) (*approval.Store, func(), error) {
	js, closeConn, err := f.nats.jetStream(cmd.Flags(), "graphsoar-approvals")
	if err != nil {
		return nil, nil, err
	}
	b, err := js.KeyValue(cmd.Context(), f.bucket)
	if err != nil {
		closeConn()
		return nil, nil, fmt.Errorf("approvals bucket %s (a worker creates it): %w", f.bucket, err)
	}
	return approval.NewStore(kv.JetStream(b), broker.JetStreamPublisher{JS: js}, nil), closeConn, nil
}

func newApprovalsCmd(s stdio) *cobra.Command {
	root := &cobra.Command{
		Use:   "approvals",
		Short: "List, approve and reject the actions rules hold for approval",
		Long: `An action written with approval: required waits for a person. The worker
carries an approved action out once (the replica that owns the incident, in
order with its events); a rejected one is never carried out; one left
undecided for approvalTimeout (24h by default) expires. Every outcome is
audited.`,
		Args: cobra.NoArgs,
	}
	var list approvalFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List held actions, the pending ones first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, closeConn, err := list.store(cmd)
			if err != nil {
				return err
			}
			defer closeConn()
			recs, err := st.List(cmd.Context())
			if err != nil {
				return err
			}
			if list.format == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(recs)
			}
			tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tTENANT\tINCIDENT\tRULE\tACTION\tPARAMS\tDEADLINE\tDECIDED")
			for _, r := range recs {
				decided := "-"
				if r.Status != approval.Pending {
					decided = fmt.Sprintf("%s at %s", r.DecidedBy, r.DecidedAt.UTC().Format(time.RFC3339))
					if r.Done {
						decided += ": " + r.Result
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Tenant, r.Incident, r.Rule, r.Action,
					truncateText(rules.FormatParams(r.Params), 60), r.Deadline.UTC().Format(time.RFC3339), decided)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(s.err, "%d held action(s)\n", len(recs))
			return nil
		},
	}
	list.register(listCmd, false)
	root.AddCommand(listCmd,
		decideCmd(s, "approve", "Approve a held action: the worker carries it out once", (*approval.Store).Approve),
		decideCmd(s, "reject", "Reject a held action: it is never carried out", (*approval.Store).Reject))
	return root
}

type decideFunc func(*approval.Store, context.Context, string, string) (approval.Record, error)

func decideCmd(s stdio, verb, short string, decide decideFunc) *cobra.Command {
	var f approvalFlags
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			by := f.by
			if by == "" {
				u, err := user.Current()
				if err != nil || u.Username == "" {
					return errors.New("say who decides with --by NAME")
				}
				by = u.Username
			}
			st, closeConn, err := f.store(cmd)
			if err != nil {
				return err
			}
			defer closeConn()
			rec, err := decide(st, cmd.Context(), args[0], by)
			if errors.Is(err, approval.ErrNotFound) || errors.Is(err, approval.ErrDecided) {
				return &exitError{code: 1, err: err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(s.out, "%s: %s %s on incident %s (rule %s) by %s; the worker carries the decision out\n",
				rec.ID, rec.Status, rec.Action, rec.Incident, rec.Rule, rec.DecidedBy)
			return nil
		},
	}
	f.register(cmd, true)
	return cmd
}
