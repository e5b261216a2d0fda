package worker

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/kv"
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

	rev   uint64 // revision loaded or written; 0: not stored
	dirty bool
}

// stateStore keeps the state of recently handled incidents in memory, at
// most size of them (least recently used first out, stored first when they
// hold a change), in front of a key-value store. A replica that lost a
// partition cannot overwrite newer state: writes compare the revision.
type stateStore struct {
	kv   kv.Store
	size int

	mu    sync.Mutex
	cache map[string]*list.Element // of *stateEntry
	lru   list.List                // front: most recently used
}

type stateEntry struct {
	mu        sync.Mutex // held while an event of the incident is handled; guards st
	key       string
	st        *incidentState
	partition string // guarded by stateStore.mu
}

func newStateStore(store kv.Store, size int) *stateStore {
	return &stateStore{kv: store, size: size, cache: map[string]*list.Element{}}
}

// stateKey is the key of an incident: i.<tenant>.<incident>, with a hash
// for values a key cannot hold.
func stateKey(tenant, id string) string {
	return "i." + broker.KeyToken(tenant) + "." + broker.KeyToken(id)
}

// load returns the entry of an incident, reading the store on first use.
// The caller holds entry.mu while it uses the state.
func (s *stateStore) load(ctx context.Context, key, partition string) (*stateEntry, error) {
	s.mu.Lock()
	var e *stateEntry
	if el, ok := s.cache[key]; ok {
		s.lru.MoveToFront(el)
		e = el.Value.(*stateEntry)
	} else {
		e = &stateEntry{key: key}
		s.cache[key] = s.lru.PushFront(e)
	}
	e.partition = partition
	evicted := s.evict()
	s.mu.Unlock()
	s.store(ctx, evicted)
	e.mu.Lock()
	if e.st != nil {
		return e, nil
	}
	st := &incidentState{}
	got, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, kv.ErrNotFound):
	case err != nil:
		e.mu.Unlock()
		return nil, fmt.Errorf("read state %s: %w", key, err)
	default:
		if jerr := json.Unmarshal(got.Value, st); jerr != nil {
			st = &incidentState{} // unreadable state is treated as first sight
		}
		if len(st.Snapshot) > 0 {
			st.prev, _ = incident.DecodeIncident(st.Snapshot)
		}
		st.rev = got.Revision
	}
	e.st = st
	return e, nil
}

// evict takes the least recently used entries over size out of the cache
// (mu held) and returns them.
func (s *stateStore) evict() []*stateEntry {
	var out []*stateEntry
	for s.lru.Len() > s.size {
		el := s.lru.Back()
		e := el.Value.(*stateEntry)
		s.lru.Remove(el)
		delete(s.cache, e.key)
		out = append(out, e)
	}
	return out
}

// store writes the changes held by entries that left the cache.
func (s *stateStore) store(ctx context.Context, entries []*stateEntry) {
	for _, e := range entries {
		e.mu.Lock()
		if e.st != nil {
			_ = s.persist(context.WithoutCancel(ctx), e.key, e)
		}
		e.mu.Unlock()
	}
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
		if errors.Is(err, kv.ErrConflict) {
			// Someone else wrote it (another owner): forget ours.
			e.st = nil
			return fmt.Errorf("state %s changed elsewhere: %w", key, err)
		}
		return fmt.Errorf("write state %s: %w", key, err)
	}
	e.st.rev, e.st.dirty = rev, false
	return nil
}

// release stores and forgets the entries of a partition given up.
func (s *stateStore) release(ctx context.Context, partition string) error {
	s.mu.Lock()
	var entries []*stateEntry
	for key, el := range s.cache {
		if e := el.Value.(*stateEntry); e.partition == partition {
			entries = append(entries, e)
			s.lru.Remove(el)
			delete(s.cache, key)
		}
	}
	s.mu.Unlock()
	var errs []error
	for _, e := range entries {
		e.mu.Lock()
		if e.st != nil {
			if err := s.persist(ctx, e.key, e); err != nil {
				errs = append(errs, err)
			}
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
