package poller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// lease makes this producer the only one polling a tenant for the lease TTL.
func (p *Poller) lease(ctx context.Context, tenant string) error {
	if p.o.Coord == nil {
		return nil
	}
	key := "poll." + broker.KeyToken(tenant)
	e, err := p.o.Coord.Get(ctx, key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		if _, err := p.o.Coord.Create(ctx, key, []byte(p.o.ID)); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				return p.leasedByUs(ctx, key)
			}
			return err
		}
		return nil
	case err != nil:
		return err
	case string(e.Value()) != p.o.ID:
		return errLeased
	}
	_, err = p.o.Coord.Update(ctx, key, []byte(p.o.ID), e.Revision())
	if errors.Is(err, jetstream.ErrKeyExists) {
		return p.leasedByUs(ctx, key)
	}
	return err
}

// leasedByUs settles a lost race for a lease: the winner may be this producer
// itself, when a write whose reply was lost was sent again by the client.
func (p *Poller) leasedByUs(ctx context.Context, key string) error {
	e, err := p.o.Coord.Get(ctx, key)
	if err != nil || string(e.Value()) != p.o.ID {
		return errLeased
	}
	return nil
}
