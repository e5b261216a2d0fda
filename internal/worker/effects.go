package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/kv"
)

// effectRecord is the idempotency record of one non-idempotent write (a
// comment, a block), keyed by actions.Effect.Key.
//
// The protocol: a writer creates the record as pending before the write and
// marks it done after. A record found done means written. A pending record
// is another writer at work, unless that writer is known to be gone: it
// claimed under an older epoch of the partition (the partition has had a new
// owner since, so the writer was fenced), or its lease ran out. A record
// left by a writer gone, or marked unknown (the write may have reached
// Graph), is checked against Graph before anything is written: the comment
// on the incident, the indicator by its value. So neither a crash nor an
// ambiguous failure writes twice.
type effectRecord struct {
	State     string    `json:"state"` // pending, done, unknown
	Owner     string    `json:"owner"`
	Partition string    `json:"partition,omitempty"`
	Epoch     uint64    `json:"epoch,omitempty"`
	Until     time.Time `json:"until,omitzero"`
	Action    string    `json:"action"`
	Rule      string    `json:"rule"`
	Tenant    string    `json:"tenant"`
	Incident  string    `json:"incident"`
	Hash      string    `json:"hash,omitempty"`
	GraphID   string    `json:"graphId,omitempty"`
	RequestID string    `json:"requestId,omitempty"`
	At        time.Time `json:"at"`
}

// effectResult is the outcome of one effect.
type effectResult struct {
	result string // applied, duplicate, failed, pending, released, skipped
	info   graph.Info
	err    error
	block  *BlockRef // what an applied block_file_hash created
}

var (
	errDone   = errors.New("already written")
	errBudget = errors.New("action budget exceeded")
	// errBusy: another writer is at work on the same effect.
	errBusy = errors.New("effect in progress elsewhere")
)

// auditResult is the audit label of a failed action: pending when the event
// is tried again, released when another replica takes it, failed for good
// otherwise (consume.Decide, the one table).
func auditResult(err error) string {
	switch consume.Decide("", err).Verdict {
	case consume.Retry:
		return "pending"
	case consume.Release:
		return "released"
	}
	return "failed"
}

// runEffect carries out one effect at most once.
func (w *Worker) runEffect(ctx context.Context, x *execution, eff actions.Effect) effectResult {
	if eff.Action == "comment" && hasComment(x.current, eff.Comment) {
		w.markDone(ctx, eff, x, "", graph.Info{})
		return effectResult{result: "duplicate"}
	}
	if !w.effectKeys.tryLock(eff.Key) {
		return effectResult{result: "pending", err: consume.Transient(fmt.Errorf("%w: %s by another event of this replica", errBusy, eff.Key))}
	}
	defer w.effectKeys.unlock(eff.Key)
	rev, verify, err := w.claim(ctx, eff, x)
	switch {
	case errors.Is(err, errDone):
		return effectResult{result: "duplicate"}
	case err != nil:
		return effectResult{result: auditResult(err), err: err}
	}
	if verify {
		found, err := w.verifyEffect(ctx, x, eff)
		if err != nil {
			return effectResult{result: auditResult(err), err: err}
		}
		if found {
			w.finish(ctx, eff, x, rev, "", graph.Info{})
			return effectResult{result: "duplicate"}
		}
	}
	if !x.allowWrite() {
		w.release(ctx, eff.Key, rev)
		return effectResult{result: "skipped", err: errBudget}
	}
	b, info, err := w.writeEffect(ctx, x, eff)
	if err == nil {
		w.finish(ctx, eff, x, rev, b.ID, info)
		r := effectResult{result: "applied", info: info}
		if eff.Action == "block_file_hash" {
			r.block = &BlockRef{Backend: string(b.Backend), ID: b.ID, Hash: eff.Hash}
		}
		return r
	}
	var ge *graph.Error
	if errors.As(err, &ge) && !ge.Ambiguous() {
		// Graph answered that it did not apply it: forget the claim.
		w.release(ctx, eff.Key, rev)
	} else {
		// It may have been written (a timeout, a 5xx, a lost connection, a
		// cancelled request): the claim stays, marked unknown, until Graph
		// has been checked.
		rec := w.record(eff, x, "unknown")
		if b, jerr := json.Marshal(rec); jerr == nil {
			_, _ = w.opts.Effects.Update(context.WithoutCancel(ctx), eff.Key, b, rev)
		}
	}
	return effectResult{result: auditResult(err), info: info, err: err}
}

// claim takes the record of an effect: it returns the revision to finish
// with, and whether Graph must be checked before writing. The caller holds
// the key in effectKeys, so a pending record of this replica is a crash's.
func (w *Worker) claim(ctx context.Context, eff actions.Effect, x *execution) (uint64, bool, error) {
	store := w.opts.Effects
	for range 3 {
		pending, err := json.Marshal(w.record(eff, x, "pending"))
		if err != nil {
			return 0, false, err
		}
		e, err := store.Get(ctx, eff.Key)
		switch {
		case errors.Is(err, kv.ErrNotFound):
			rev, err := store.Create(ctx, eff.Key, pending)
			if errors.Is(err, kv.ErrConflict) {
				continue
			}
			if err != nil {
				return 0, false, consume.Transient(fmt.Errorf("claim %s: %w", eff.Key, err))
			}
			return rev, false, nil
		case err != nil:
			return 0, false, consume.Transient(fmt.Errorf("read %s: %w", eff.Key, err))
		}
		var rec effectRecord
		_ = json.Unmarshal(e.Value, &rec)
		switch {
		case rec.State == "done":
			return 0, false, errDone
		case rec.State == "pending" && !w.writerGone(rec, x):
			return 0, false, consume.Transient(fmt.Errorf("%w: %s by %s until %s", errBusy, eff.Key, rec.Owner, rec.Until.Format(time.RFC3339)))
		}
		rev, err := store.Update(ctx, eff.Key, pending, e.Revision)
		if errors.Is(err, kv.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, false, consume.Transient(fmt.Errorf("claim %s: %w", eff.Key, err))
		}
		return rev, true, nil
	}
	return 0, false, consume.Transient(fmt.Errorf("%w: %s contended", errBusy, eff.Key))
}

// writerGone reports whether the writer of a pending record can no longer
// be at work: this replica's own crash (the caller holds the key here), a
// writer of an older epoch of this partition (fenced by the new owner's
// lease), or one whose lease ran out.
func (w *Worker) writerGone(rec effectRecord, x *execution) bool {
	switch {
	case rec.Owner == w.opts.ID:
		return true
	case rec.Partition == x.d.Partition && rec.Epoch < x.d.Epoch:
		return true
	}
	return !w.now().Before(rec.Until)
}

func (w *Worker) record(eff actions.Effect, x *execution, state string) effectRecord {
	now := w.now()
	return effectRecord{
		State: state, Owner: w.opts.ID, Partition: x.d.Partition, Epoch: x.d.Epoch, Until: now.Add(w.opts.EffectLease),
		Action: eff.Action, Rule: eff.Rule, Tenant: x.ev.Tenant, Incident: x.ev.IncidentID, Hash: eff.Hash, At: now,
	}
}

// finish marks an effect done.
func (w *Worker) finish(ctx context.Context, eff actions.Effect, x *execution, rev uint64, graphID string, info graph.Info) {
	rec := w.record(eff, x, "done")
	rec.Until, rec.GraphID, rec.RequestID = time.Time{}, graphID, info.RequestID
	b, err := json.Marshal(rec)
	if err == nil {
		_, err = w.opts.Effects.Update(context.WithoutCancel(ctx), eff.Key, b, rev)
	}
	if err != nil {
		// The write happened; a later attempt finds it in Graph.
		w.log.Warn("idempotency record not marked done", "key", eff.Key, "err", err)
	}
}

// markDone records an effect found already made, without a claim.
func (w *Worker) markDone(ctx context.Context, eff actions.Effect, x *execution, graphID string, info graph.Info) {
	rec := w.record(eff, x, "done")
	rec.Until, rec.GraphID, rec.RequestID = time.Time{}, graphID, info.RequestID
	if b, err := json.Marshal(rec); err == nil {
		_, _ = w.opts.Effects.Put(ctx, eff.Key, b)
	}
}

// effectDone reports whether the idempotency record of key says written.
func (w *Worker) effectDone(ctx context.Context, key string) bool {
	e, err := w.opts.Effects.Get(ctx, key)
	if err != nil {
		return false
	}
	var rec effectRecord
	return json.Unmarshal(e.Value, &rec) == nil && rec.State == "done"
}

// release forgets a claim whose write certainly did not happen.
func (w *Worker) release(ctx context.Context, key string, rev uint64) {
	_ = w.opts.Effects.Delete(context.WithoutCancel(ctx), key, rev)
}

// verifyEffect asks Graph whether an effect was made.
func (w *Worker) verifyEffect(ctx context.Context, x *execution, eff actions.Effect) (bool, error) {
	switch eff.Action {
	case "comment":
		inc, _, err := w.graph.GetIncident(ctx, x.ev.Tenant, x.ev.IncidentID)
		if err != nil {
			return false, err
		}
		return hasComment(inc, eff.Comment), nil
	case "block_file_hash":
		b, err := w.graph.FindBlock(ctx, x.ev.Tenant, blockRequest(eff, x.now))
		return b != nil, err
	}
	return false, fmt.Errorf("unknown effect %s", eff.Action)
}

// writeEffect makes the Graph write.
func (w *Worker) writeEffect(ctx context.Context, x *execution, eff actions.Effect) (graph.Block, graph.Info, error) {
	switch eff.Action {
	case "comment":
		_, info, err := w.graph.AddComment(ctx, x.ev.Tenant, x.ev.IncidentID, eff.Comment)
		return graph.Block{}, info, err
	case "block_file_hash":
		return w.graph.BlockFileHash(ctx, x.ev.Tenant, blockRequest(eff, x.now))
	}
	return graph.Block{}, graph.Info{}, fmt.Errorf("unknown effect %s", eff.Action)
}

// blockRequest is the Graph request of a block_file_hash effect; its
// expiration, when a duration, counts from now.
func blockRequest(eff actions.Effect, now time.Time) graph.BlockRequest {
	exp, _ := eff.ExpirationTime(now)
	return graph.BlockRequest{
		Hash: eff.Hash, Rule: eff.Rule, Reason: eff.Reason, Mode: eff.Mode, Severity: eff.Severity,
		Expiration: exp, RBACGroupNames: eff.RBACGroupNames,
		// A legacy security action is found again by this (≤ 256 characters).
		ClientContext: "graphsoar:" + eff.Key,
	}
}

func hasComment(inc *incident.Incident, text string) bool {
	if inc == nil {
		return false
	}
	for _, c := range inc.Comments {
		if c != nil && c.Comment == text {
			return true
		}
	}
	return false
}
