package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/ctxtime"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// followAudit reads the audit stream until ctx ends: first the last Backlog
// records, then each one as it is stored. A broken read (the stream not
// there yet, NATS gone) starts again, after the last record read, with
// backoff.
func (p *Page) followAudit(ctx context.Context) {
	wait := 250 * time.Millisecond
	for {
		read, err := p.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if read > 0 {
			wait = 250 * time.Millisecond
		}
		p.log.Warn("live page: reading the audit stream; trying again", "stream", p.o.AuditStream, "err", err, "in", wait)
		if ctxtime.Sleep(ctx, wait) != nil {
			return
		}
		wait = min(wait*2, 10*time.Second)
	}
}

// follow reads the audit stream with an ordered consumer until ctx ends or
// the read breaks, and returns how many records it read.
func (p *Page) follow(ctx context.Context) (int, error) {
	s, err := p.o.JS.Stream(ctx, p.o.AuditStream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", p.o.AuditStream, err)
	}
	start := p.feed.last() + 1
	if start == 1 {
		info, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", p.o.AuditStream, err)
		}
		if last, n := info.State.LastSeq, uint64(p.o.Backlog); last > n {
			start = last - n + 1
		}
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: start})
	if err != nil {
		return 0, fmt.Errorf("stream %s: ordered consumer: %w", p.o.AuditStream, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", p.o.AuditStream, err)
	}
	defer msgs.Stop()
	defer context.AfterFunc(ctx, msgs.Stop)()
	read := 0
	for {
		m, err := msgs.Next()
		if err != nil {
			return read, fmt.Errorf("stream %s: %w", p.o.AuditStream, err)
		}
		read++
		meta, err := m.Metadata()
		if err != nil {
			return read, fmt.Errorf("stream %s: %w", p.o.AuditStream, err)
		}
		var a worker.AuditEvent
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			p.log.Debug("live page: unreadable audit record", "subject", m.Subject(), "seq", meta.Sequence.Stream, "err", err)
			continue
		}
		p.hub.publish(message{kind: "record", data: p.feed.add(meta.Sequence.Stream, a)})
		if a.Approval != "" {
			p.poke(approvalsSection) // an action held or decided: the approvals changed
		}
	}
}
