package consume

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The partition leases. Every replica heartbeats "member.<id>" in the
// coordination bucket (whose TTL expires the keys of a replica that stops)
// and holds "lease.<partition>" for the partitions it consumes, renewing them
// by compare-and-set. Each replica aims at its fair share, ceil(partitions /
// members), preferring partitions by rendezvous hashing so that assignments
// are stable; a replica over its share (a member joined) releases one
// partition a round, after draining it, while it keeps renewing it.

func memberKey(id string) string { return "member." + id }
func leaseKey(p string) string   { return "lease." + p }

// owned is a partition this replica holds the lease of.
type owned struct {
	p         *partition
	rev       uint64
	releasing bool
}

// leases runs the lease rounds until ctx ends; then it releases every
// partition (draining within DrainTimeout) and deletes its leases.
func (c *Consumer) leases(ctx context.Context) {
	tick := time.NewTicker(c.opts.RenewInterval)
	defer tick.Stop()
	c.round(ctx)
	for {
		select {
		case <-ctx.Done():
			c.drainErr = c.releaseAll()
			return
		case id := <-c.released:
			c.forget(id, true)
		case <-tick.C:
			c.round(ctx)
		}
	}
}

// round is one heartbeat, renewal, claim and release round.
func (c *Consumer) round(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, c.opts.RenewInterval)
	defer cancel()
	kv := c.opts.Coord
	sent := c.now()
	if _, err := kv.Put(ctx, memberKey(c.opts.ID), []byte(sent.UTC().Format(time.RFC3339))); err != nil {
		c.roundFailed(ctx, err)
	}
	// Renew first: it decides which partitions are still ours.
	for id, o := range c.owned {
		if o.p.fenced() && !o.releasing {
			c.log.Warn("partition fenced: its lease was not renewed in time", "partition", id)
			c.drop(id)
			_ = kv.Delete(context.WithoutCancel(ctx), leaseKey(id), jetstream.LastRevision(o.rev))
			continue
		}
		rev, err := kv.Update(ctx, leaseKey(id), []byte(c.opts.ID), o.rev)
		switch {
		case err == nil:
			o.rev = rev
			o.p.extend(sent.Add(c.topo.LeaseTTL - c.opts.LeaseSafety))
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyNotFound):
			c.log.Warn("partition lease lost to another replica", "partition", id, "err", err)
			c.drop(id)
		default:
			// KV unreachable: the lease may still be ours; its validity
			// timer fences the partition if this lasts.
			c.log.Warn("partition lease not renewed", "partition", id, "err", err)
		}
	}
	keys, err := kv.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		c.roundFailed(ctx, err)
		return
	}
	members, leased := 0, map[string]bool{}
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "member."):
			members++
		case strings.HasPrefix(k, "lease."):
			leased[strings.TrimPrefix(k, "lease.")] = true
		}
	}
	ids := c.topo.PartitionIDs()
	share := (len(ids) + max(members, 1) - 1) / max(members, 1)
	ranked := c.ranked(ids)
	for _, id := range ranked {
		if c.holding() >= share {
			break
		}
		if _, mine := c.owned[id]; mine || leased[id] {
			continue
		}
		sent := c.now()
		rev, err := kv.Create(ctx, leaseKey(id), []byte(c.opts.ID))
		if err != nil {
			continue // taken meanwhile
		}
		c.start(id, rev, sent.Add(c.topo.LeaseTTL-c.opts.LeaseSafety))
		c.log.Info("partition claimed", "partition", id, "members", members, "share", share, "epoch", rev)
	}
	if c.holding() > share {
		for i := len(ranked) - 1; i >= 0; i-- {
			if o, mine := c.owned[ranked[i]]; mine && !o.releasing {
				c.log.Info("partition released to rebalance", "partition", ranked[i], "members", members, "share", share)
				c.release(ranked[i])
				break
			}
		}
	}
	c.metrics.Partitions.Set(float64(len(c.owned)))
	c.balanced.Store(true)
	c.lastRound.Store(c.now().UnixNano())
}

func (c *Consumer) roundFailed(ctx context.Context, err error) {
	if ctx.Err() == nil {
		c.log.Warn("partition balancing", "err", err)
	}
}

// holding counts the partitions owned and not being released.
func (c *Consumer) holding() int {
	n := 0
	for _, o := range c.owned {
		if !o.releasing {
			n++
		}
	}
	return n
}

// ranked orders partitions by this replica's rendezvous preference.
func (c *Consumer) ranked(ids []string) []string {
	score := func(id string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(c.opts.ID + "/" + id))
		return h.Sum64()
	}
	out := append([]string(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return score(out[i]) > score(out[j]) })
	return out
}

// start begins consuming a claimed partition.
func (c *Consumer) start(id string, epoch uint64, validUntil time.Time) {
	p := c.newPartition(id, epoch, validUntil)
	c.owned[id] = &owned{p: p, rev: epoch}
	c.current.Store(id, p)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		p.run()
	}()
}

// release drains a partition in the background (its lease is renewed
// meanwhile) and then gives its lease up: stop fetching, release what is
// queued, let what runs finish (within DrainTimeout, then cancel it).
func (c *Consumer) release(id string) {
	o := c.owned[id]
	o.releasing = true
	o.p.stop()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.drain(o.p, c.opts.DrainTimeout)
		c.released <- id
	}()
}

// drain stops a partition's work: no more fetching, queued deliveries
// released, running ones given until the limit, then cancelled (and
// released). It reports whether everything finished in time.
func (c *Consumer) drain(p *partition, limit time.Duration) bool {
	p.stop()
	<-p.done
	c.releaseQueued(p.id)
	deadline := time.Now().Add(limit)
	inTime := c.waitIdle(p.id, deadline)
	p.end()
	c.waitIdle(p.id, deadline.Add(5*time.Second))
	return inTime
}

// waitIdle waits until no delivery of the partition runs, or until the
// deadline; it reports whether none runs.
func (c *Consumer) waitIdle(id string, deadline time.Time) bool {
	for c.disp.busy(id) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return !c.disp.busy(id)
}

// releaseQueued takes the partition's queued deliveries off their lanes and
// releases them (Nak) for their next owner.
func (c *Consumer) releaseQueued(id string) {
	for _, d := range c.disp.drop(id) {
		_ = d.Msg.Nak()
	}
}

// drop stops a partition at once (its lease is lost or fenced): its
// handlings are cancelled and released, its queued deliveries naked.
func (c *Consumer) drop(id string) {
	o := c.owned[id]
	if o == nil {
		return
	}
	o.p.end()
	c.releaseQueued(id)
	c.forget(id, false)
}

// forget removes a partition from the owned set (and deletes its lease when
// it was released gracefully).
func (c *Consumer) forget(id string, deleteLease bool) {
	o := c.owned[id]
	if o == nil {
		return
	}
	delete(c.owned, id)
	c.current.CompareAndDelete(id, o.p)
	c.metrics.ConsumerPending.DeleteLabelValues(id)
	c.metrics.AckPending.DeleteLabelValues(id)
	if deleteLease {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.opts.Coord.Delete(ctx, leaseKey(id), jetstream.LastRevision(o.rev))
	}
	if c.opts.OnRelease != nil {
		c.opts.OnRelease(id)
	}
	c.metrics.Partitions.Set(float64(len(c.owned)))
}

// releaseAll drains every partition at once, within one DrainTimeout, and
// gives up the leases and the membership (shutdown). It returns an error
// when events were still running at the bound (they are released).
func (c *Consumer) releaseAll() error {
	type drained struct {
		id     string
		inTime bool
	}
	done := make(chan drained, len(c.owned))
	for id, o := range c.owned {
		o.releasing = true
		go func() { done <- drained{id, c.drain(o.p, c.opts.DrainTimeout)} }()
	}
	var late []string
	for range len(c.owned) {
		d := <-done
		if !d.inTime {
			late = append(late, d.id)
		}
		c.forget(d.id, true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.opts.Coord.Delete(ctx, memberKey(c.opts.ID))
	c.metrics.Partitions.Set(0)
	if len(late) > 0 {
		return fmt.Errorf("drain: events still in flight after %v in partitions %v; they are released for redelivery", c.opts.DrainTimeout, late)
	}
	return nil
}
