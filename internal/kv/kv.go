// Package kv is the small compare-and-set key-value port the worker keeps its
// state, idempotency records and plans behind: a JetStream key-value bucket
// in production (JetStream), a map in tests (Memory). Keys are strings safe
// for NATS KV (letters, digits, '-', '_', '.', '/', '=').
package kv

import (
	"context"
	"errors"
)

// The errors of a Store, for errors.Is.
var (
	// ErrNotFound: the key has no value.
	ErrNotFound = errors.New("kv: key not found")
	// ErrConflict: a Create found the key, or an Update or Delete found
	// another revision.
	ErrConflict = errors.New("kv: revision conflict")
)

// Entry is a value and its revision.
type Entry struct {
	Value    []byte
	Revision uint64
}

// Store is a key-value store with compare-and-set. Revisions grow with
// every write. It is safe for concurrent use.
type Store interface {
	// Get returns the entry of key, or ErrNotFound.
	Get(ctx context.Context, key string) (Entry, error)
	// Create writes key only when it has no value (else ErrConflict).
	Create(ctx context.Context, key string, value []byte) (uint64, error)
	// Update writes key only when its revision is rev (else ErrConflict).
	Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error)
	// Put writes key whatever it holds.
	Put(ctx context.Context, key string, value []byte) (uint64, error)
	// Delete removes key; with rev > 0 only when its revision is rev.
	Delete(ctx context.Context, key string, rev uint64) error
}

// Lister is a Store that can also list its keys.
type Lister interface {
	Store
	// Keys lists the keys that have a value, in no particular order.
	Keys(ctx context.Context) ([]string, error)
}
