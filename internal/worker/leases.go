package worker

import (
	"context"
	"errors"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The partition leases. Every replica heartbeats "member.<id>" in the
// coordination bucket (whose TTL expires the keys of a replica that stops)
// and holds "lease.<partition>" for the partitions it consumes, renewing them
// by compare-and-set. Each replica aims at its fair share, ceil(partitions /
// members), preferring partitions by rendezvous hashing so that assignments
// are stable; a replica over its share (a new member joined) releases one
// partition a round, after draining it.

type owned struct {
	rev uint64
	p   *partition
}

func memberKey(id string) string { return "member." + id }
func leaseKey(p string) string   { return "lease." + p }

// balance runs one round of heartbeat, renewal, claiming and releasing.
func (w *Worker) balance(ctx context.Context) error {
	kv := w.buckets.Coord
	if _, err := kv.Put(ctx, memberKey(w.opts.ID), []byte(w.now().UTC().Format(time.RFC3339))); err != nil {
		return err
	}
	keys, err := kv.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return err
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
	ids := w.topo.PartitionIDs()
	share := (len(ids) + max(members, 1) - 1) / max(members, 1)

	// Renew; a lease lost (expired and taken) stops its partition at once.
	for id, o := range w.owned {
		rev, err := kv.Update(ctx, leaseKey(id), []byte(w.opts.ID), o.rev)
		if err != nil {
			w.log.Warn("partition lease lost", "partition", id, "err", err)
			w.dropPartition(ctx, id, false)
			continue
		}
		o.rev = rev
	}
	ranked := w.ranked(ids)
	// Claim free partitions up to the share.
	for _, id := range ranked {
		if len(w.owned) >= share {
			break
		}
		if _, mine := w.owned[id]; mine || leased[id] {
			continue
		}
		rev, err := kv.Create(ctx, leaseKey(id), []byte(w.opts.ID))
		if err != nil {
			continue // taken meanwhile
		}
		p, err := w.startPartition(ctx, id)
		if err != nil {
			w.log.Error("partition not started", "partition", id, "err", err)
			_ = kv.Delete(ctx, leaseKey(id), jetstream.LastRevision(rev))
			continue
		}
		w.owned[id] = &owned{rev: rev, p: p}
		w.log.Info("partition claimed", "partition", id, "members", members, "share", share)
	}
	// Release one partition over the share, the least preferred.
	if len(w.owned) > share {
		for i := len(ranked) - 1; i >= 0; i-- {
			if _, mine := w.owned[ranked[i]]; mine {
				w.log.Info("partition released to rebalance", "partition", ranked[i], "members", members, "share", share)
				w.dropPartition(ctx, ranked[i], true)
				break
			}
		}
	}
	w.metrics.Partitions.Set(float64(len(w.owned)))
	return nil
}

// ranked orders partitions by this replica's rendezvous preference.
func (w *Worker) ranked(ids []string) []string {
	score := func(id string) uint64 {
		h := fnv.New64a()
		h.Write([]byte(w.opts.ID + "/" + id))
		return h.Sum64()
	}
	out := append([]string(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return score(out[i]) > score(out[j]) })
	return out
}

// dropPartition stops consuming a partition; graceful drains it and deletes
// the lease so another replica can take it at once.
func (w *Worker) dropPartition(ctx context.Context, id string, graceful bool) {
	o := w.owned[id]
	if o == nil {
		return
	}
	delete(w.owned, id)
	// Another replica reports this partition's lag from now on.
	w.metrics.ConsumerPending.DeleteLabelValues(id)
	w.metrics.AckPending.DeleteLabelValues(id)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.DrainTimeout)
	defer cancel()
	if err := o.p.stop(sctx); err != nil {
		w.log.Warn("partition state not stored", "partition", id, "err", err)
	}
	if graceful {
		_ = w.buckets.Coord.Delete(sctx, leaseKey(id), jetstream.LastRevision(o.rev))
	}
}

// releaseAll drains every partition at once, within one DrainTimeout, and
// gives up the leases (shutdown).
func (w *Worker) releaseAll(ctx context.Context) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.DrainTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for id, o := range w.owned {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := o.p.stop(sctx); err != nil {
				w.log.Warn("partition state not stored", "partition", id, "err", err)
			}
			_ = w.buckets.Coord.Delete(sctx, leaseKey(id), jetstream.LastRevision(o.rev))
		}()
	}
	wg.Wait()
	clear(w.owned)
	_ = w.buckets.Coord.Delete(sctx, memberKey(w.opts.ID))
	w.metrics.Partitions.Set(0)
}
