package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// effectRecord is the idempotency record of one non-idempotent write (a
// comment, a security action), keyed by actions.Effect.Key.
//
// The protocol: a writer creates the record as pending (with a lease) before
// the write and marks it done after. A record found done means written. A
// pending record whose lease has not expired is another writer at work: try
// later. A pending record past its lease, or one marked unknown (the write
// failed ambiguously), is checked against Graph before anything is written:
// the comment on the incident, the security action by its clientContext. So a
// crash between the Graph write and the ack never writes twice.
type effectRecord struct {
	State     string    `json:"state"` // pending, done, unknown
	Owner     string    `json:"owner"`
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
	result string // applied, duplicate, failed, pending
	info   graph.Info
	err    error
}

// runEffect carries out one effect at most once.
func (w *Worker) runEffect(ctx context.Context, x *execution, eff actions.Effect) effectResult {
	if eff.Action == "comment" && hasComment(x.current, eff.Comment) {
		w.markDone(ctx, eff, x, "", graph.Info{})
		return effectResult{result: "duplicate"}
	}
	if !w.effectKeys.tryLock(eff.Key) {
		return effectResult{result: "pending", err: fmt.Errorf("%w: %s by another event of this replica", errBusy, eff.Key)}
	}
	defer w.effectKeys.unlock(eff.Key)
	rev, verify, err := w.claim(ctx, eff, x)
	switch {
	case errors.Is(err, errDone):
		return effectResult{result: "duplicate"}
	case err != nil:
		return effectResult{result: "pending", err: err}
	}
	if verify {
		found, err := w.verifyEffect(ctx, x, eff)
		if err != nil {
			return effectResult{result: "pending", err: err}
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
	id, info, err := w.writeEffect(ctx, x, eff)
	if err == nil {
		w.finish(ctx, eff, x, rev, id, info)
		return effectResult{result: "applied", info: info}
	}
	var ge *graph.Error
	if errors.As(err, &ge) && ge.Ambiguous() {
		// It may have been written: the next attempt checks Graph first.
		rec := w.record(eff, x, "unknown")
		if b, jerr := json.Marshal(rec); jerr == nil {
			_, _ = w.buckets.Effects.Update(ctx, eff.Key, b, rev)
		}
	} else {
		w.release(ctx, eff.Key, rev)
	}
	if graph.IsRetryable(err) {
		return effectResult{result: "pending", info: info, err: err}
	}
	return effectResult{result: "failed", info: info, err: err}
}

var (
	errDone   = errors.New("already written")
	errBudget = errors.New("action budget exceeded")
)

// claim takes the record of an effect: it returns the revision to finish
// with, and whether Graph must be checked before writing. The caller holds
// the key in effectKeys, so a pending record of this replica is a crash's.
func (w *Worker) claim(ctx context.Context, eff actions.Effect, x *execution) (uint64, bool, error) {
	kv := w.buckets.Effects
	for range 3 {
		pending, err := json.Marshal(w.record(eff, x, "pending"))
		if err != nil {
			return 0, false, err
		}
		e, err := kv.Get(ctx, eff.Key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			rev, err := kv.Create(ctx, eff.Key, pending)
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err != nil {
				return 0, false, fmt.Errorf("%w: claim %s: %v", errNATS, eff.Key, err)
			}
			return rev, false, nil
		case err != nil:
			return 0, false, fmt.Errorf("%w: read %s: %v", errNATS, eff.Key, err)
		}
		var rec effectRecord
		_ = json.Unmarshal(e.Value(), &rec)
		switch {
		case rec.State == "done":
			return 0, false, errDone
		case rec.State == "pending" && rec.Owner != w.opts.ID && w.now().Before(rec.Until):
			return 0, false, fmt.Errorf("%w: %s by %s until %s", errBusy, eff.Key, rec.Owner, rec.Until.Format(time.RFC3339))
		}
		rev, err := kv.Update(ctx, eff.Key, pending, e.Revision())
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return 0, false, fmt.Errorf("%w: claim %s: %v", errNATS, eff.Key, err)
		}
		return rev, true, nil
	}
	return 0, false, fmt.Errorf("%w: %s contended", errBusy, eff.Key)
}

func (w *Worker) record(eff actions.Effect, x *execution, state string) effectRecord {
	now := w.now()
	return effectRecord{
		State: state, Owner: w.opts.ID, Until: now.Add(w.opts.EffectLease), Action: eff.Action, Rule: eff.Rule,
		Tenant: x.ev.Tenant, Incident: x.ev.IncidentID, Hash: eff.Hash, At: now,
	}
}

// finish marks an effect done.
func (w *Worker) finish(ctx context.Context, eff actions.Effect, x *execution, rev uint64, graphID string, info graph.Info) {
	rec := w.record(eff, x, "done")
	rec.Until, rec.GraphID, rec.RequestID = time.Time{}, graphID, info.RequestID
	b, err := json.Marshal(rec)
	if err == nil {
		_, err = w.buckets.Effects.Update(ctx, eff.Key, b, rev)
	}
	if err != nil {
		// The write happened; a later attempt will find it in Graph.
		w.log.Warn("idempotency record not marked done", "key", eff.Key, "err", err)
	}
}

// markDone records an effect found already made, without a claim.
func (w *Worker) markDone(ctx context.Context, eff actions.Effect, x *execution, graphID string, info graph.Info) {
	rec := w.record(eff, x, "done")
	rec.Until, rec.GraphID, rec.RequestID = time.Time{}, graphID, info.RequestID
	if b, err := json.Marshal(rec); err == nil {
		_, _ = w.buckets.Effects.Put(ctx, eff.Key, b)
	}
}

// effectDone reports whether the idempotency record of key says written.
func (w *Worker) effectDone(ctx context.Context, key string) bool {
	e, err := w.buckets.Effects.Get(ctx, key)
	if err != nil {
		return false
	}
	var rec effectRecord
	return json.Unmarshal(e.Value(), &rec) == nil && rec.State == "done"
}

// release forgets a claim whose write certainly did not happen.
func (w *Worker) release(ctx context.Context, key string, rev uint64) {
	_ = w.buckets.Effects.Delete(ctx, key, jetstream.LastRevision(rev))
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
func (w *Worker) writeEffect(ctx context.Context, x *execution, eff actions.Effect) (string, graph.Info, error) {
	switch eff.Action {
	case "comment":
		_, info, err := w.graph.AddComment(ctx, x.ev.Tenant, x.ev.IncidentID, eff.Comment)
		return "", info, err
	case "block_file_hash":
		b, info, err := w.graph.BlockFileHash(ctx, x.ev.Tenant, blockRequest(eff, x.now))
		return b.ID, info, err
	}
	return "", graph.Info{}, fmt.Errorf("unknown effect %s", eff.Action)
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
