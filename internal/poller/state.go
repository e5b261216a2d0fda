package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
)

func (p *Poller) readWatermark(ctx context.Context, tenant string) (watermark, uint64, error) {
	e, err := p.o.State.Get(ctx, watermarkKey(tenant))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		since := p.o.Since
		if since.IsZero() {
			since = p.o.Now().Add(-p.o.Interval)
		}
		return watermark{Time: since}, 0, nil
	}
	if err != nil {
		return watermark{}, 0, fmt.Errorf("read watermark: %w", err)
	}
	var wm watermark
	if err := json.Unmarshal(e.Value(), &wm); err != nil {
		return watermark{}, 0, fmt.Errorf("watermark of %s: %w", tenant, err)
	}
	return wm, e.Revision(), nil
}

func (p *Poller) writeWatermark(ctx context.Context, tenant string, wm watermark, rev uint64) error {
	b, err := json.Marshal(wm)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = p.o.State.Create(ctx, watermarkKey(tenant), b)
	} else {
		_, err = p.o.State.Update(ctx, watermarkKey(tenant), b, rev)
	}
	if err != nil {
		return fmt.Errorf("write watermark: %w", err)
	}
	return nil
}

// publishedVersion returns the newest version of an incident published.
func (p *Poller) publishedVersion(ctx context.Context, tenant, id string) (time.Time, bool, error) {
	e, err := p.o.State.Get(ctx, versionKey(tenant, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read published version of %s: %w", id, err)
	}
	t, err := time.Parse(time.RFC3339Nano, string(e.Value()))
	if err != nil {
		return time.Time{}, false, nil
	}
	return t, true, nil
}

func (p *Poller) recordVersion(ctx context.Context, tenant string, v pendingVersion) error {
	if _, err := p.o.State.Put(ctx, versionKey(tenant, v.id), []byte(v.version.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("record published version of %s: %w", v.id, err)
	}
	return nil
}

// leaseKey is the coordination key of a tenant's producer lease.
func leaseKey(tenant string) string { return "poll." + broker.KeyToken(tenant) }

// leasedError says who holds a tenant's lease, and until when at least.
type leasedError struct {
	holder string
	until  time.Time
}

func (e *leasedError) Error() string {
	return fmt.Sprintf("tenant leased by producer %s until %s", e.holder, e.until.UTC().Format(time.RFC3339))
}

func (e *leasedError) Is(target error) bool { return target == errLeased }

// lease makes this producer the only one polling a tenant for the lease TTL
// and returns the lease's revision.
func (p *Poller) lease(ctx context.Context, tenant string) (uint64, error) {
	if p.o.Coord == nil {
		return 0, nil
	}
	key := leaseKey(tenant)
	e, err := p.o.Coord.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err := p.o.Coord.Create(ctx, key, []byte(p.o.ID))
		if errors.Is(err, jetstream.ErrKeyExists) {
			return p.leasedByUs(ctx, key)
		}
		return rev, err
	case err != nil:
		return 0, err
	case string(e.Value()) != p.o.ID:
		return 0, &leasedError{holder: string(e.Value()), until: e.Created().Add(p.o.LeaseTTL)}
	}
	rev, err := p.o.Coord.Update(ctx, key, []byte(p.o.ID), e.Revision())
	if errors.Is(err, jetstream.ErrKeyExists) {
		return p.leasedByUs(ctx, key)
	}
	return rev, err
}

// leasedByUs settles a lost race for a lease: the winner may be this producer
// itself, when a write whose reply was lost was sent again by the client.
func (p *Poller) leasedByUs(ctx context.Context, key string) (uint64, error) {
	e, err := p.o.Coord.Get(ctx, key)
	if err != nil {
		return 0, errLeased
	}
	if string(e.Value()) != p.o.ID {
		return 0, &leasedError{holder: string(e.Value()), until: e.Created().Add(p.o.LeaseTTL)}
	}
	return e.Revision(), nil
}

// holdLease renews a tenant's lease every third of its TTL while a pass
// runs (a long pass: many pages, 429 waits), and ends the pass when the
// lease is lost. stop ends the renewal and returns the last revision.
func (p *Poller) holdLease(ctx context.Context, cancel context.CancelFunc, tenant string, rev uint64) (stop func() uint64) {
	if p.o.Coord == nil {
		return func() uint64 { return rev }
	}
	done, finished := make(chan struct{}), make(chan struct{})
	var last atomic.Uint64
	last.Store(rev)
	go func() {
		defer close(finished)
		t := time.NewTicker(max(p.o.LeaseTTL/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				n, err := p.o.Coord.Update(ctx, leaseKey(tenant), []byte(p.o.ID), last.Load())
				if err != nil {
					p.o.Log.Warn("producer lease lost during a pass; stopping it", "tenant", tenant, "err", err)
					cancel()
					return
				}
				last.Store(n)
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return last.Load()
	}
}

// Release gives up the leases this producer holds, so that another producer
// (or the next poll --once) polls at once instead of after the TTL.
func (p *Poller) Release(ctx context.Context) {
	if p.o.Coord == nil {
		return
	}
	p.mu.Lock()
	held := p.held
	p.held = map[string]uint64{}
	p.mu.Unlock()
	for tenant, rev := range held {
		if err := p.o.Coord.Delete(ctx, leaseKey(tenant), jetstream.LastRevision(rev)); err != nil {
			p.o.Log.Warn("producer lease not released; it expires by itself", "tenant", tenant, "err", err)
		}
	}
}
