package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/replay"
	"github.com/graphsoar/graphsoar/internal/replay/streamsrc"
)

func newReplayCmd(s stdio) *cobra.Command {
	var dir, eventsPath, stream, sinceStr, untilStr, against, format, nowStr string
	var nf natsFlags
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Backtest rules on recorded events: what they would have done, nothing written",
		Long: `Evaluate every recorded event in order as the worker would: previous carried
per incident (what the rules remember of the last version seen), a version not
newer than the last one seen skipped as stale, nothing written. Report per rule
the events matched and the actions planned by type.

Events come from a JSON Lines export (--events FILE, or - for stdin: envelopes
or bare incidents, as eval reads them; a line that cannot be read is counted
and reported by number), or else from the stream (--nats-url, --stream) over
--since/--until (RFC 3339 times, dates, or durations before now such as 72h),
up to its last message when the replay starts.

--against OLD_DIR evaluates the same events with another rule set too, and
lists the events whose plan differs: the planned actions added (+) and
removed (-) by the rules of --rules. Events are evaluated at their own time
(--now fixes one time for all). A progress bar is drawn on standard error when
it is a terminal.

JSON (--format json): {"events", "incidents", "evaluated", "stale", "thin",
"invalid": [{"ref", "error"}], "rules": [{"rule", "matches", "actions": {TYPE: N}}],
"diff": [{"event", "incident", "added": [PLANNED], "removed": [PLANNED]}]},
PLANNED being {"rule", "type", "params"}.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" && format != "text" {
				return &exitError{code: 2, err: fmt.Errorf("--format: %q is not json or text", format)}
			}
			if eventsPath == "" && nf.url == "" {
				return &exitError{code: 2, err: fmt.Errorf("--events FILE (or -) or --nats-url is required")}
			}
			defer batchGC()()
			opts := replay.Options{}
			var err error
			if opts.Rules, err = loadRules(dir); err != nil {
				return err
			}
			if against != "" {
				if opts.Against, err = loadRules(against); err != nil {
					return err
				}
			}
			if nowStr != "" {
				if opts.Now, err = time.Parse(time.RFC3339, nowStr); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--now: %w", err)}
				}
			}
			dial := func() (*nats.Conn, error) { return nf.dial(cmd.Flags(), "graphsoar replay") }
			events, closeEvents, err := replaySource(cmd.Context(), s, eventsPath, dial, stream, sinceStr, untilStr)
			if err != nil {
				return err
			}
			defer closeEvents()
			bar := newProgress(s.err)
			rep, err := replay.Run(cmd.Context(), opts, bar.track(events))
			bar.finish()
			if err != nil {
				return err
			}
			return writeReplay(s.out, rep, format, against)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "rules", "rules", "rules directory")
	f.StringVar(&eventsPath, "events", "", "JSON Lines export of events, or - for stdin (else the stream is read)")
	nf.register(f, "", "NATS servers to read the stream from")
	f.StringVar(&stream, "stream", "INCIDENTS", "JetStream stream of incident events")
	f.StringVar(&sinceStr, "since", "", "first message time: RFC 3339, a date, or a duration before now (72h)")
	f.StringVar(&untilStr, "until", "", "last message time: RFC 3339, a date, or a duration before now")
	f.StringVar(&against, "against", "", "another rules directory (the current rules, say) to compare plans with")
	f.StringVar(&format, "format", "text", "output format: text or json")
	f.StringVar(&nowStr, "now", "", "evaluate every event at this time (RFC 3339) instead of its own")
	return cmd
}

// replaySource opens the events: the JSON Lines file (or stdin) when given,
// else the stream.
func replaySource(ctx context.Context, s stdio, path string, dial func() (*nats.Conn, error), stream, sinceStr, untilStr string) (iter.Seq2[replay.Raw, error], func(), error) {
	if path == "-" {
		return replay.Lines(s.in, "stdin", 0), func() {}, nil
	}
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, nil, &exitError{code: 1, err: err}
		}
		var size int64
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		return replay.Lines(f, path, size), func() { f.Close() }, nil
	}
	now := time.Now()
	since, err := streamsrc.ParseTime(sinceStr, now)
	if err != nil {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("--since: %w", err)}
	}
	until, err := streamsrc.ParseTime(untilStr, now)
	if err != nil {
		return nil, nil, &exitError{code: 2, err: fmt.Errorf("--until: %w", err)}
	}
	nc, err := dial()
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, &exitError{code: 1, err: fmt.Errorf("jetstream: %w", err)}
	}
	events, err := streamsrc.Read(ctx, js, stream, since, until)
	if err != nil {
		nc.Close()
		return nil, nil, &exitError{code: 1, err: err}
	}
	return events, nc.Close, nil
}

func writeReplay(w io.Writer, rep *replay.Report, format, against string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if err := rep.WriteText(w); err != nil {
		return err
	}
	if against != "" {
		return rep.WriteDiffSummary(w, against)
	}
	return nil
}
