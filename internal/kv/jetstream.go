package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// JetStream adapts a JetStream key-value bucket to Store (and Lister). Its
// errors other than ErrNotFound and ErrConflict are the bucket's, wrapped
// with the key.
func JetStream(kv jetstream.KeyValue) Lister { return jsStore{kv: kv} }

func (s jsStore) Keys(ctx context.Context) ([]string, error) {
	l, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the keys of %s: %w", s.kv.Bucket(), err)
	}
	var keys []string
	for k := range l.Keys() {
		keys = append(keys, k)
	}
	return keys, nil
}

type jsStore struct{ kv jetstream.KeyValue }

func (s jsStore) Get(ctx context.Context, key string) (Entry, error) {
	e, err := s.kv.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return Entry{}, ErrNotFound
	case err != nil:
		return Entry{}, fmt.Errorf("read %s: %w", key, err)
	}
	return Entry{Value: e.Value(), Revision: e.Revision()}, nil
}

func (s jsStore) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := s.kv.Create(ctx, key, value)
	return rev, s.writeErr(key, err)
}

func (s jsStore) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	n, err := s.kv.Update(ctx, key, value, rev)
	return n, s.writeErr(key, err)
}

func (s jsStore) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	n, err := s.kv.Put(ctx, key, value)
	return n, s.writeErr(key, err)
}

func (s jsStore) Delete(ctx context.Context, key string, rev uint64) error {
	var opts []jetstream.KVDeleteOpt
	if rev > 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	return s.writeErr(key, s.kv.Delete(ctx, key, opts...))
}

// writeErr maps JetStream's compare-and-set failures to ErrConflict.
func (s jsStore) writeErr(key string, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return fmt.Errorf("write %s: %w", key, ErrConflict)
	}
	return fmt.Errorf("write %s: %w", key, err)
}
