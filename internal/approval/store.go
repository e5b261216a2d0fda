package approval

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/kv"
)

// Header marks a decision message on an incident's subject; its value is the
// record's id. The worker that owns the incident carries the decision out.
const Header = "Graphsoar-Approval"

// The errors of a Store, for errors.Is.
var (
	ErrNotFound = errors.New("no such approval")
	// ErrDecided: the action was approved, rejected or expired before.
	ErrDecided = errors.New("already decided")
)

// Store keeps held actions in a key-value bucket (kv.JetStream of the
// approvals bucket; kv.Memory in tests) and publishes decisions. It is safe
// for concurrent use, also across processes: every change of a record is a
// compare-and-set.
type Store struct {
	kv  kv.Lister
	pub broker.Publisher
	now func() time.Time
}

// NewStore builds a store; now defaults to time.Now.
func NewStore(b kv.Lister, pub broker.Publisher, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{kv: b, pub: pub, now: now}
}

// ID is the id of a held action: the same action with the same parameters on
// the same incident is held once, however many events plan it.
func ID(tenant, incident, rule, action string, params actions.Params) string {
	p, _ := json.Marshal(params) // maps marshal with sorted keys
	h := sha256.New()
	for _, s := range []string{tenant, incident, rule, action, string(p)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Hold returns the record of rec.ID, creating it pending (with rec's fields)
// when there is none; created says whether this call created it.
func (s *Store) Hold(ctx context.Context, rec Record) (_ Record, created bool, _ error) {
	rec.Status = Pending
	b, err := json.Marshal(rec)
	if err != nil {
		return Record{}, false, err
	}
	for range 3 {
		if _, err = s.kv.Create(ctx, rec.ID, b); err == nil {
			return rec, true, nil
		}
		if !errors.Is(err, kv.ErrConflict) {
			return Record{}, false, fmt.Errorf("hold %s: %w", rec.ID, err)
		}
		got, _, err := s.Get(ctx, rec.ID)
		if err == nil {
			return got, false, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Record{}, false, err
		}
		// Deleted in between (its bucket's age limit): create it again.
	}
	return Record{}, false, fmt.Errorf("hold %s: %w", rec.ID, err)
}

// Get returns a record and its revision.
func (s *Store) Get(ctx context.Context, id string) (Record, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, kv.ErrNotFound) {
		return Record{}, 0, fmt.Errorf("approval %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Record{}, 0, fmt.Errorf("approval %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal(e.Value, &rec); err != nil {
		return Record{}, 0, fmt.Errorf("approval %s: unreadable record: %w", id, err)
	}
	return rec, e.Revision, nil
}

// List returns every record, the pending ones first, then newest first.
func (s *Store) List(ctx context.Context) ([]Record, error) {
	keys, err := s.kv.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(keys))
	for _, k := range keys {
		rec, _, err := s.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // removed since listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b Record) int {
		if (a.Status == Pending) != (b.Status == Pending) {
			if a.Status == Pending {
				return -1
			}
			return 1
		}
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Approve approves a pending action and tells the worker, which carries it
// out once. It fails with ErrDecided when the action was decided before
// (or its deadline passed) and with ErrNotFound for an unknown id.
func (s *Store) Approve(ctx context.Context, id, by string) (Record, error) {
	return s.decide(ctx, id, Approved, by)
}

// Reject rejects a pending action: it is never carried out.
func (s *Store) Reject(ctx context.Context, id, by string) (Record, error) {
	return s.decide(ctx, id, Rejected, by)
}

func (s *Store) decide(ctx context.Context, id string, to Status, by string) (Record, error) {
	if by == "" {
		return Record{}, fmt.Errorf("approval %s: a name is required (--by)", id)
	}
	rec, _, err := s.modify(ctx, id, func(rec *Record) (bool, error) {
		now := s.now()
		switch {
		case rec.Status != Pending:
			return false, fmt.Errorf("approval %s: %w: %s by %s at %s", id, ErrDecided, rec.Status, rec.DecidedBy, rec.DecidedAt.Format(time.RFC3339))
		case to != Expired && now.After(rec.Deadline):
			return false, fmt.Errorf("approval %s: %w: expired at %s", id, ErrDecided, rec.Deadline.Format(time.RFC3339))
		}
		rec.Status, rec.DecidedBy, rec.DecidedAt = to, by, now
		return true, nil
	})
	if err != nil {
		return rec, err
	}
	// Decided: from here the sweep republishes the decision if this publish
	// is lost.
	return rec, s.publish(ctx, rec, "")
}

// modify reads the record of id, lets change edit it and stores it by
// compare-and-set, reading it again when another writer came first (change
// then sees what that writer left). change returns false to leave the
// record as it is (modify reports false), or an error to stop with it; the
// record as read comes back either way.
func (s *Store) modify(ctx context.Context, id string, change func(*Record) (bool, error)) (Record, bool, error) {
	for {
		rec, rev, err := s.Get(ctx, id)
		if err != nil {
			return Record{}, false, err
		}
		if ok, err := change(&rec); err != nil || !ok {
			return rec, false, err
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return Record{}, false, err
		}
		if _, err := s.kv.Update(ctx, id, b, rev); errors.Is(err, kv.ErrConflict) {
			continue
		} else if err != nil {
			return Record{}, false, fmt.Errorf("approval %s: %w", id, err)
		}
		return rec, true, nil
	}
}

// publish sends a decision to the incident's subject. attempt tells
// republished decisions apart from the first within the duplicate window.
func (s *Store) publish(ctx context.Context, rec Record, attempt string) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	h := nats.Header{}
	h.Set(Header, rec.ID)
	m := broker.Message{Subject: rec.Subject, Header: h, Data: data, MsgID: "approval:" + rec.ID + ":" + string(rec.Status) + attempt}
	if err := s.pub.PublishAll(ctx, []broker.Message{m}); err != nil {
		return fmt.Errorf("approval %s: %s, but the worker was not told (it will be at the next sweep): %w", rec.ID, rec.Status, err)
	}
	return nil
}

// Finish records that the worker carried out a decision: result is the
// audit result (applied, unchanged, duplicate, failed, rejected, expired...).
// It reports false when the record was finished before, unless again (a
// failed decision carried out again) says to record the new outcome.
func (s *Store) Finish(ctx context.Context, id, result, errText string, again bool) (bool, error) {
	_, finished, err := s.modify(ctx, id, func(rec *Record) (bool, error) {
		if rec.Done && !again {
			return false, nil
		}
		rec.Done, rec.Result, rec.Error = true, result, errText
		return true, nil
	})
	return finished, err
}
