package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/dlq"
	"github.com/graphsoar/graphsoar/internal/graph"
)

// section is what the page shows of one part of graphsoar: its items, or
// why they could not be read. Available is false when the part is not
// there at all (no approval store).
type section[T any] struct {
	Items     []T    `json:"items"`
	Error     string `json:"error,omitempty"`
	Available bool   `json:"available"`
}

// ruleView is one loaded rule with the events it matched.
type ruleView struct {
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	Order       int       `json:"order"`
	Enabled     bool      `json:"enabled"`
	Expires     time.Time `json:"expires,omitzero"`
	Actions     []string  `json:"actions"`
	Matches     int       `json:"matches"`
}

// sectionNames are the server-sent event types of the sections.
func sectionNames() []string { return []string{"deadLetters", "approvals", "rules", "budgets"} }

// sections reads every section now, as JSON by name.
func (p *Page) sections(ctx context.Context) map[string][]byte {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return map[string][]byte{
		"deadLetters": encode(p.readDeadLetters(ctx)),
		"approvals":   encode(p.readApprovals(ctx)),
		"rules":       encode(p.readRules()),
		"budgets":     encode(p.readBudgets()),
	}
}

func (p *Page) readDeadLetters(ctx context.Context) section[dlq.Letter] {
	letters, err := dlq.List(ctx, p.o.JS, p.o.DLQStream, dlq.Filter{})
	return newSection(letters, err, true)
}

func (p *Page) readApprovals(ctx context.Context) section[approval.Record] {
	if p.o.Approvals == nil {
		return newSection[approval.Record](nil, nil, false)
	}
	recs, err := p.o.Approvals.List(ctx)
	return newSection(recs, err, true)
}

func (p *Page) readRules() section[ruleView] {
	if p.o.Rules == nil || p.o.Rules.Current() == nil {
		return newSection[ruleView](nil, nil, false)
	}
	counts := p.feed.matchCounts()
	rs := p.o.Rules.Current().Rules()
	out := make([]ruleView, 0, len(rs))
	for _, r := range rs {
		out = append(out, ruleView{ID: r.ID, Description: r.Description, Order: r.Order, Enabled: r.Enabled,
			Expires: r.Expires, Actions: r.Actions(), Matches: counts[r.ID]})
	}
	return newSection(out, nil, true)
}

func (p *Page) readBudgets() section[graph.BudgetUse] {
	if p.o.Budgets == nil {
		return newSection[graph.BudgetUse](nil, nil, false)
	}
	return newSection(p.o.Budgets.BudgetUse(), nil, true)
}

func newSection[T any](items []T, err error, available bool) section[T] {
	s := section[T]{Items: items, Available: available}
	if s.Items == nil {
		s.Items = []T{}
	}
	if err != nil {
		s.Error = err.Error()
	}
	return s
}

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"items":[],"error":"not encodable"}`)
	}
	return b
}

// refreshLoop reads the sections every Refresh, or at once when poked,
// while a browser watches, and sends those that changed. A message on a
// dead-letter subject pokes it.
func (p *Page) refreshLoop(ctx context.Context) {
	if sub, err := p.o.JS.Conn().Subscribe("graphsoar.dlq.>", func(*nats.Msg) { p.poke() }); err == nil {
		defer func() { _ = sub.Unsubscribe() }()
	}
	t := time.NewTicker(p.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.kick:
		}
		if p.hub.watched() {
			p.refresh(ctx)
		}
	}
}

// refresh reads the sections and sends those that changed since last sent.
func (p *Page) refresh(ctx context.Context) {
	now := p.sections(ctx)
	for _, name := range sectionNames() {
		p.mu.Lock()
		same := bytes.Equal(p.last[name], now[name])
		p.last[name] = now[name]
		p.mu.Unlock()
		if !same {
			p.hub.publish(message{kind: name, data: now[name]})
		}
	}
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
