package kv

import (
	"context"
	"slices"
	"sync"
)

// Memory is a Store in a map, for tests. Its zero value is ready.
type Memory struct {
	mu   sync.Mutex
	rev  uint64
	data map[string]Entry
	// Fail, when set, is consulted before every operation; an error it
	// returns is the operation's (an outage, in a test).
	Fail func(op, key string) error
}

func (m *Memory) check(op, key string) error {
	if m.Fail != nil {
		return m.Fail(op, key)
	}
	return nil
}

func (m *Memory) write(key string, value []byte) uint64 {
	if m.data == nil {
		m.data = map[string]Entry{}
	}
	m.rev++
	m.data[key] = Entry{Value: slices.Clone(value), Revision: m.rev}
	return m.rev
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("get", key); err != nil {
		return Entry{}, err
	}
	e, ok := m.data[key]
	if !ok {
		return Entry{}, ErrNotFound
	}
	return Entry{Value: slices.Clone(e.Value), Revision: e.Revision}, nil
}

// Create implements Store.
func (m *Memory) Create(_ context.Context, key string, value []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("create", key); err != nil {
		return 0, err
	}
	if _, ok := m.data[key]; ok {
		return 0, ErrConflict
	}
	return m.write(key, value), nil
}

// Update implements Store.
func (m *Memory) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("update", key); err != nil {
		return 0, err
	}
	if e, ok := m.data[key]; !ok || e.Revision != rev {
		return 0, ErrConflict
	}
	return m.write(key, value), nil
}

// Put implements Store.
func (m *Memory) Put(_ context.Context, key string, value []byte) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("put", key); err != nil {
		return 0, err
	}
	return m.write(key, value), nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, key string, rev uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("delete", key); err != nil {
		return err
	}
	e, ok := m.data[key]
	if rev > 0 && (!ok || e.Revision != rev) {
		return ErrConflict
	}
	delete(m.data, key)
	return nil
}

// Keys implements Lister.
func (m *Memory) Keys(_ context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check("keys", ""); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(m.data))
	for k := range m.data {
		keys = append(keys, k)
	}
	return keys, nil
}
