package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/dlq"
	"github.com/graphsoar/graphsoar/internal/graph"
)

// defaultDecider names the person deciding on an approval when the page
// does not say.
const defaultDecider = "live-page"

// state serves GET /api/state: everything the page shows, read now.
func (p *Page) state(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	writeJSON(w, http.StatusOK, struct {
		Events      []eventView              `json:"events"`
		DeadLetters section[dlq.Letter]      `json:"deadLetters"`
		Approvals   section[approval.Record] `json:"approvals"`
		Rules       section[ruleView]        `json:"rules"`
		Budgets     section[graph.BudgetUse] `json:"budgets"`
	}{p.feed.views(), p.readDeadLetters(ctx), p.readApprovals(ctx), p.readRules(), p.readBudgets()})
}

// deadLetters serves GET /api/dlq.
func (p *Page) deadLetters(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	s := p.readDeadLetters(ctx)
	if s.Error != "" {
		writeError(w, http.StatusBadGateway, s.Error)
		return
	}
	writeJSON(w, http.StatusOK, s.Items)
}

// replay serves POST /api/dlq/{seq}/replay: the dead letter is published
// again to its producer's subject and removed from the dead-letter stream
// (as graphsoar dlq replay --seq does). It answers with the incident
// stream's sequence of the replayed event.
func (p *Page) replay(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeError(w, http.StatusBadRequest, "the dead letter's sequence must be a positive number")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	letters, err := dlq.List(ctx, p.o.JS, p.o.DLQStream, dlq.Filter{Seqs: []uint64{seq}})
	if err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	if len(letters) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no dead letter %d (replayed already?)", seq))
		return
	}
	res := dlq.Replay(ctx, p.o.JS, p.o.DLQStream, letters, false)[0]
	p.poke(deadLettersSection)
	if res.Err != nil && res.Stored == 0 {
		writeError(w, http.StatusConflict, fmt.Sprintf("dead letter %d: %v", seq, res.Err))
		return
	}
	p.log.Info("live page: dead letter replayed", "seq", seq, "subject", res.Letter.Subject, "stored", res.Stored)
	out := map[string]any{"seq": seq, "subject": res.Letter.Subject, "stored": res.Stored}
	if res.Err != nil {
		out["warning"] = res.Err.Error() // replayed, but still in the dead-letter stream
	}
	writeJSON(w, http.StatusOK, out)
}

// approvals serves GET /api/approvals.
func (p *Page) approvals(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	s := p.readApprovals(ctx)
	switch {
	case !s.Available:
		writeError(w, http.StatusNotImplemented, "approvals are not available here")
	case s.Error != "":
		writeError(w, http.StatusBadGateway, s.Error)
	default:
		writeJSON(w, http.StatusOK, s.Items)
	}
}

// decide serves POST /api/approvals/{id}/approve and .../reject. The body
// may name the person deciding ({"by": "alice"}); the default is
// "live-page". It answers with the decided record; an unknown id is 404, an
// action decided before (or expired) 409, a store that fails 502.
func (p *Page) decide(w http.ResponseWriter, r *http.Request) {
	if p.o.Approvals == nil {
		writeError(w, http.StatusNotImplemented, "approvals are not available here")
		return
	}
	var decide func(context.Context, string, string) (approval.Record, error)
	switch r.PathValue("decision") {
	case "approve":
		decide = p.o.Approvals.Approve
	case "reject":
		decide = p.o.Approvals.Reject
	default:
		writeError(w, http.StatusNotFound, "the decision is approve or reject")
		return
	}
	by, err := decider(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	rec, err := decide(ctx, id, by)
	p.poke(approvalsSection)
	decided := rec.ID != "" && rec.DecidedBy == by && (rec.Status == approval.Approved || rec.Status == approval.Rejected)
	switch {
	case errors.Is(err, approval.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, approval.ErrDecided):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil && !decided:
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	p.log.Info("live page: approval decided", "id", id, "decision", rec.Status, "by", by)
	out := struct {
		approval.Record
		Warning string `json:"warning,omitempty"` // decided, but the worker not told yet
	}{Record: rec}
	if err != nil {
		out.Warning = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// decider reads the deciding person's name from a JSON body {"by": NAME}.
func decider(r *http.Request) (string, error) {
	var body struct {
		By string `json:"by"`
	}
	err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("the body must be JSON like {\"by\": \"alice\"}: %w", err)
	}
	by := strings.TrimSpace(body.By)
	switch {
	case by == "":
		return defaultDecider, nil
	case len(by) > 100 || strings.ContainsFunc(by, func(c rune) bool { return c < ' ' || c == 0x7f }):
		return "", errors.New("the name of the person deciding must be at most 100 printable characters")
	}
	return by, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
