package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/incident"
)

func newPublishCmd(s stdio) *cobra.Command {
	var eventPath, subject string
	var nf natsFlags
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish incident events to NATS JetStream (a file, or JSON Lines on stdin)",
		Long: `Publish events the way producers should: each event is read and checked, then
published to <subject>.<tenant>.<incident> with the Nats-Msg-Id header
<tenant>:<incident>:<lastUpdateDateTime> (the event id for a thin event), and
JetStream's acknowledgement is awaited. --event - (or a .jsonl/.ndjson file)
reads JSON Lines; a line that cannot be read is reported with its number and
the others are still published.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if eventPath == "" {
				return &exitError{code: 2, err: errors.New("--event is required (a file, or - for JSON Lines on stdin)")}
			}
			js, closeConn, err := nf.jetStream(cmd.Flags(), "graphsoar-publish")
			if err != nil {
				return err // exit 2 for options that do not fit; a connect error is redacted
			}
			defer closeConn()
			p := &publisher{js: js, subject: strings.TrimSuffix(subject, ".>"), out: s.out, errOut: s.err}
			ctx := cmd.Context()
			if eventPath == "-" {
				return p.lines(ctx, "stdin", s.in)
			}
			if ext := filepath.Ext(eventPath); ext == ".jsonl" || ext == ".ndjson" {
				f, err := os.Open(eventPath)
				if err != nil {
					return err
				}
				defer f.Close()
				return p.lines(ctx, eventPath, f)
			}
			b, err := os.ReadFile(eventPath)
			if err != nil {
				return err
			}
			if err := p.one(ctx, b); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("%s: %w", eventPath, err)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&eventPath, "event", "", "event file, or - for JSON Lines on stdin")
	nf.register(f, "nats://127.0.0.1:4222", "NATS servers (comma-separated)")
	f.StringVar(&subject, "subject", "security.incidents", "subject prefix: events go to PREFIX.<tenant>.<incident>")
	return cmd
}

type publisher struct {
	js      jetstream.JetStream
	subject string
	out     io.Writer
	errOut  io.Writer
}

// published is what became of one published event.
type published struct {
	Event     *incident.Event
	Subject   string
	Ack       *jetstream.PubAck
	Duplicate bool // JetStream had the Nats-Msg-Id already and dropped this copy
}

// publish checks one event and publishes it to <subject>.<tenant>.<incident>
// with the Nats-Msg-Id header, waiting for JetStream's acknowledgement.
func (p *publisher) publish(ctx context.Context, b []byte) (published, error) {
	ev, err := incident.Decode(b)
	if err != nil {
		return published{}, err
	}
	if ev.Tenant == "" {
		return published{}, fmt.Errorf("event %s: no tenant (set tenantid, or data.tenantId)", ev.ID)
	}
	id := ev.Key()
	if id == "" {
		id = ev.ID
	}
	m := nats.NewMsg(p.subject + "." + broker.SubjectToken(ev.Tenant) + "." + broker.SubjectToken(ev.IncidentID))
	m.Data = b
	m.Header.Set(nats.MsgIdHdr, id)
	ack, err := p.js.PublishMsg(ctx, m)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return published{}, fmt.Errorf("no JetStream stream takes %s: start graphsoar run once (it creates the stream) or create it (deploy/nats)", m.Subject)
	}
	if err != nil {
		return published{}, fmt.Errorf("publish %s: %w", m.Subject, err)
	}
	return published{Event: ev, Subject: m.Subject, Ack: ack, Duplicate: ack.Duplicate}, nil
}

// one publishes one event and reports it on p.out.
func (p *publisher) one(ctx context.Context, b []byte) error {
	r, err := p.publish(ctx, b)
	if err != nil {
		return err
	}
	if r.Duplicate {
		fmt.Fprintf(p.out, "duplicate  %s  %s (already in %s)\n", r.Event.ID, r.Subject, r.Ack.Stream)
		return nil
	}
	fmt.Fprintf(p.out, "published  %s  %s (%s #%d)\n", r.Event.ID, r.Subject, r.Ack.Stream, r.Ack.Sequence)
	return nil
}

func (p *publisher) lines(ctx context.Context, name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxEventLine)
	line, failed := 0, 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := p.one(ctx, bytes.Clone(b)); err != nil {
			failed++
			fmt.Fprintf(p.errOut, "%s:%d: %v\n", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d events not published", failed, line)}
	}
	return nil
}
