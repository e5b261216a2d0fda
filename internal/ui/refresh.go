package ui

import (
	"bytes"
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/ctxtime"
)

// deadLetterSubjects are the subjects of the dead-letter stream.
const deadLetterSubjects = "graphsoar.dlq.>"

// maxKickGap bounds how long an early refresh waits after the one before,
// so that a burst of dead letters or decisions costs a read every so often
// and not one each.
const maxKickGap = 200 * time.Millisecond

// streamMark is what changes in a stream's state whenever its messages do:
// storing a message raises LastSeq; removing one (a delete, a purge, an
// expiry) lowers Msgs; a stream made anew starts again at FirstSeq.
type streamMark struct{ first, last, msgs uint64 }

// refresher is what the refresh loop remembers of the sections read from
// NATS (the dead letters and the approvals).
type refresher struct {
	marks map[string]streamMark // the backing stream's mark, taken before the last good read
	read  map[string]time.Time  // when the last good read began
}

// refreshLoop keeps the sections current while a browser watches. Every
// Refresh it reads the rules and budgets (in memory) and looks at the state
// of the streams behind the dead letters and the approvals, reading those
// again only when their stream changed, when asked to (poke: an action on
// the page, a new browser, a message on a dead-letter subject, an audit
// record about a held action), or FullRefresh after their last read. It
// sends the sections that changed.
func (p *Page) refreshLoop(ctx context.Context) {
	// Most dead letters are noticed here before the next tick.
	if sub, err := p.o.JS.Conn().Subscribe(deadLetterSubjects, func(*nats.Msg) { p.poke(deadLettersSection) }); err == nil {
		defer func() { _ = sub.Unsubscribe() }()
	}
	r := &refresher{marks: map[string]streamMark{}, read: map[string]time.Time{}}
	gap := min(maxKickGap, p.o.Refresh)
	t := time.NewTicker(p.o.Refresh)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
			if wait := gap - time.Since(last); wait > 0 && ctxtime.Sleep(ctx, wait) != nil {
				return
			}
		}
		if p.hub.watched() {
			last = time.Now()
			p.refresh(ctx, r)
		}
	}
}

// refresh reads the sections that are due and sends those that changed
// since last sent.
func (p *Page) refresh(ctx context.Context, r *refresher) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stale := p.takeStale()
	for _, name := range []string{deadLettersSection, approvalsSection} {
		start := time.Now()
		stream := p.backingStream(name)
		var mark streamMark
		changed := false
		if stream != "" {
			m, err := p.streamMark(ctx, stream)
			mark, changed = m, err != nil || m != r.marks[name]
		}
		read, ok := r.read[name]
		if !stale[name] && !changed && ok && start.Sub(read) < p.o.FullRefresh {
			continue
		}
		b, good := p.readSection(ctx, name)
		if good {
			r.marks[name], r.read[name] = mark, start
		} else {
			delete(r.read, name) // read again at the next tick
		}
		p.send(name, b)
	}
	p.send(rulesSection, encode(p.readRules()))
	p.send(budgetsSection, encode(p.readBudgets()))
}

// backingStream names the stream whose state tells whether the section
// name changed; "" when there is none to look at (the approvals without
// ApprovalsBucket: they are read when poked and every FullRefresh).
func (p *Page) backingStream(name string) string {
	switch {
	case name == deadLettersSection:
		return p.o.DLQStream
	case name == approvalsSection && p.o.Approvals != nil && p.o.ApprovalsBucket != "":
		return "KV_" + p.o.ApprovalsBucket // a key-value bucket's stream
	}
	return ""
}

// streamMark reads a stream's state (one request).
func (p *Page) streamMark(ctx context.Context, stream string) (streamMark, error) {
	s, err := p.o.JS.Stream(ctx, stream)
	if err != nil {
		return streamMark{}, err
	}
	st := s.CachedInfo().State
	return streamMark{first: st.FirstSeq, last: st.LastSeq, msgs: st.Msgs}, nil
}

// readSection reads the dead letters or the approvals as JSON and reports
// whether the read succeeded.
func (p *Page) readSection(ctx context.Context, name string) ([]byte, bool) {
	if name == deadLettersSection {
		s := p.readDeadLetters(ctx)
		return encode(s), s.Error == ""
	}
	s := p.readApprovals(ctx)
	return encode(s), s.Error == ""
}

// send sends a section to the open streams unless it is what was last sent.
func (p *Page) send(name string, b []byte) {
	p.mu.Lock()
	same := bytes.Equal(p.last[name], b)
	p.last[name] = b
	p.mu.Unlock()
	if !same {
		p.hub.publish(message{kind: name, data: b})
	}
}

// poke asks for an early read of the sections named (of every section when
// none is); it never blocks.
func (p *Page) poke(names ...string) {
	if len(names) == 0 {
		names = sectionNames()
	}
	p.mu.Lock()
	for _, n := range names {
		p.stale[n] = true
	}
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// takeStale returns the sections poked since the last call, and forgets them.
func (p *Page) takeStale() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.stale
	p.stale = map[string]bool{}
	return out
}

// lastSections returns the sections as last sent, for a new stream.
func (p *Page) lastSections() []message {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []message
	for _, name := range sectionNames() {
		if b, ok := p.last[name]; ok {
			out = append(out, message{kind: name, data: b})
		}
	}
	return out
}
