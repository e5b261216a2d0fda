package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// incidentState is what the worker remembers of an incident between events.
type incidentState struct {
	// Version is the lastUpdateDateTime of the newest version handled.
	Version time.Time `json:"v"`
	// Snapshot is the incident as last seen, reduced to the properties the
	// rules read through previous and changed() (all of it when a rule uses
	// previous as a whole). In memory it is prev; it is encoded when stored.
	Snapshot json.RawMessage `json:"s,omitempty"`
	prev     *incident.Incident
	// Writes are the times of recent Graph writes, for the action budget.
	Writes []time.Time `json:"w,omitempty"`

	rev   uint64 // KV revision loaded or written; 0: not in KV
	dirty bool
}

// stateStore caches the state of the incidents of the partitions this replica
// owns and persists it to a key-value bucket: at once after a Graph write,
// otherwise within the flush interval (coalesced per incident). A replica
// that lost a partition cannot overwrite newer state: writes compare the
// revision.
type stateStore struct {
	kv    jetstream.KeyValue
	mu    sync.Mutex
	cache map[string]*stateEntry
}

type stateEntry struct {
	mu        sync.Mutex // held while an event of the incident is handled
	st        *incidentState
	partition string
}

func newStateStore(kv jetstream.KeyValue) *stateStore {
	return &stateStore{kv: kv, cache: map[string]*stateEntry{}}
}

// stateKey is the KV key of an incident: i.<tenant>.<incident>, with a hash
// for values a key cannot hold.
func stateKey(tenant, id string) string {
	return "i." + broker.KeyToken(tenant) + "." + broker.KeyToken(id)
}

// load returns the entry of an incident, reading the KV bucket on first use.
// The caller holds entry.mu while it uses the state.
func (s *stateStore) load(ctx context.Context, key, partition string) (*stateEntry, error) {
	s.mu.Lock()
	e, ok := s.cache[key]
	if !ok {
		e = &stateEntry{partition: partition}
		s.cache[key] = e
	}
	s.mu.Unlock()
	e.mu.Lock()
	if e.st != nil {
		return e, nil
	}
	st := &incidentState{}
	kve, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: read state %s: %v", errNATS, key, err)
	default:
		if jerr := json.Unmarshal(kve.Value(), st); jerr != nil {
			st = &incidentState{} // unreadable state is treated as first sight
		}
		if len(st.Snapshot) > 0 {
			st.prev, _ = incident.DecodeIncident(st.Snapshot)
		}
		st.rev = kve.Revision()
	}
	e.st = st
	return e, nil
}

// persist writes one entry now (the caller holds e.mu).
func (s *stateStore) persist(ctx context.Context, key string, e *stateEntry) error {
	if !e.st.dirty {
		return nil
	}
	e.st.Snapshot = nil
	if e.st.prev != nil {
		snap, err := e.st.prev.Snapshot(nil, true)
		if err != nil {
			return err
		}
		e.st.Snapshot = snap
	}
	b, err := json.Marshal(e.st)
	if err != nil {
		return err
	}
	var rev uint64
	if e.st.rev == 0 {
		rev, err = s.kv.Create(ctx, key, b)
	} else {
		rev, err = s.kv.Update(ctx, key, b, e.st.rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Someone else wrote it (another owner): forget ours.
			e.st = nil
			return fmt.Errorf("%w: state %s changed elsewhere", errNATS, key)
		}
		return fmt.Errorf("%w: write state %s: %v", errNATS, key, err)
	}
	e.st.rev, e.st.dirty = rev, false
	return nil
}

// flush writes every dirty entry not in use (of one partition, or all for
// ""), and forgets the entries of the partition when drop is set.
func (s *stateStore) flush(ctx context.Context, partition string, drop bool) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.cache))
	for k, e := range s.cache {
		if partition == "" || e.partition == partition {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, k := range keys {
		s.mu.Lock()
		e := s.cache[k]
		s.mu.Unlock()
		if e == nil {
			continue
		}
		// An entry in use belongs to an event in flight, which stores it
		// itself (or, abandoned at shutdown, is redelivered).
		if !e.mu.TryLock() {
			continue
		}
		if e.st != nil {
			if err := s.persist(ctx, k, e); err != nil {
				errs = append(errs, err)
			}
		}
		if drop {
			s.mu.Lock()
			delete(s.cache, k)
			s.mu.Unlock()
		}
		e.mu.Unlock()
	}
	return errors.Join(errs...)
}

// budget reports how many writes the incident made within the window, after
// forgetting older ones.
func (st *incidentState) budget(now time.Time, window time.Duration) int {
	keep := st.Writes[:0]
	for _, t := range st.Writes {
		if now.Sub(t) < window {
			keep = append(keep, t)
		}
	}
	st.Writes = keep
	return len(keep)
}
