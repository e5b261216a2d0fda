package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/dlq"
)

// dlqFlags are the flags dlq list and dlq replay share.
type dlqFlags struct {
	nats     natsFlags
	stream   string
	reason   string
	incident string
	seqs     []uint
	format   string
}

func (f *dlqFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	f.nats.register(fl, "nats://127.0.0.1:4222", "NATS servers")
	fl.StringVar(&f.stream, "stream", broker.DefaultTopology().DLQStream, "dead-letter stream")
	fl.StringVar(&f.reason, "reason", "", "only dead letters with this reason (malformed, graph_permanent, retries_exhausted, ...)")
	fl.StringVar(&f.incident, "incident", "", "only the dead letters of this incident")
	fl.UintSliceVar(&f.seqs, "seq", nil, "only these dead letters, by sequence (repeatable)")
	fl.StringVar(&f.format, "format", "text", "text or json")
}

func (f *dlqFlags) filter() dlq.Filter {
	flt := dlq.Filter{Reason: f.reason, Incident: f.incident}
	for _, s := range f.seqs {
		flt.Seqs = append(flt.Seqs, uint64(s))
	}
	return flt
}

func newDLQCmd(s stdio) *cobra.Command {
	root := &cobra.Command{
		Use:   "dlq",
		Short: "Show and replay dead letters: the events the worker could not handle",
		Args:  cobra.NoArgs,
	}
	var list dlqFlags
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters with their reason, incident and error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			js, closeConn, err := list.nats.jetStream(cmd.Flags(), "graphsoar-dlq")
			if err != nil {
				return err
			}
			defer closeConn()
			letters, err := dlq.List(cmd.Context(), js, list.stream, list.filter())
			if err != nil {
				return err
			}
			if list.format == "json" {
				if letters == nil {
					letters = []dlq.Letter{}
				}
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(letters)
			}
			tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tDEAD-LETTERED\tREASON\tTENANT\tINCIDENT\tEVENT\tERROR")
			for _, l := range letters {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Seq, l.DeadLettered.UTC().Format(time.RFC3339), l.Reason,
					orNone(l.Tenant), orNone(l.Incident), orNone(l.Event), truncateText(l.Error, 120))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(s.err, "%d dead letter(s)\n", len(letters))
			return nil
		},
	}
	list.register(listCmd)

	var rep dlqFlags
	var keep bool
	replayCmd := &cobra.Command{
		Use:   "replay",
		Short: "Publish dead letters again to the subject their producer used",
		Long: `Publish the selected dead letters again, each to the subject its producer
used, with its original body and headers. The worker handles a replayed event
even though its version was handled before, once per dead letter. A replayed
dead letter is removed from the dead-letter stream (--keep keeps it); if the
event fails again, it comes back as a new dead letter. Exit 1 when a replay
failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			js, closeConn, err := rep.nats.jetStream(cmd.Flags(), "graphsoar-dlq")
			if err != nil {
				return err
			}
			defer closeConn()
			letters, err := dlq.List(cmd.Context(), js, rep.stream, rep.filter())
			if err != nil {
				return err
			}
			results := dlq.Replay(cmd.Context(), js, rep.stream, letters, keep)
			failed := 0
			for _, r := range results {
				if r.Err != nil {
					failed++
					fmt.Fprintf(s.out, "dead letter %d (%s, incident %s): not replayed: %v\n", r.Letter.Seq, r.Letter.Reason, orNone(r.Letter.Incident), r.Err)
					continue
				}
				fmt.Fprintf(s.out, "dead letter %d (%s, incident %s): replayed to %s (stream #%d)\n", r.Letter.Seq, r.Letter.Reason,
					orNone(r.Letter.Incident), r.Letter.Subject, r.Stored)
			}
			fmt.Fprintf(s.err, "%d replayed, %d failed\n", len(results)-failed, failed)
			if failed > 0 {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	rep.register(replayCmd)
	replayCmd.Flags().BoolVar(&keep, "keep", false, "keep the dead letters in their stream after replaying them")
	root.AddCommand(listCmd, replayCmd)
	return root
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
