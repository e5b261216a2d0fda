package ui

import (
	"context"
	"encoding/json"
	"time"

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

// The sections, by their server-sent event types.
const (
	deadLettersSection = "deadLetters"
	approvalsSection   = "approvals"
	rulesSection       = "rules"
	budgetsSection     = "budgets"
)

// sectionNames are the server-sent event types of the sections.
func sectionNames() []string {
	return []string{deadLettersSection, approvalsSection, rulesSection, budgetsSection}
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
