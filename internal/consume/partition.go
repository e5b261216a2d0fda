package consume

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/ctxtime"
)

// partition is one partition this replica holds the lease of: its fetch
// loop, and the context of its handlings, cancelled when the partition is
// fenced (lease lost or no longer certainly valid) or released.
type partition struct {
	id    string
	c     *Consumer
	epoch uint64 // the lease's revision when claimed

	ctx    context.Context // of the handlings
	cancel context.CancelFunc
	fetch  context.Context // of the fetch loop; ends first on a release
	stop   context.CancelFunc

	consuming atomic.Bool // the fetch loop has a live iterator
	done      chan struct{}

	mu    sync.Mutex
	fence *time.Timer // cancels the handlings when the lease's validity ends
}

func (c *Consumer) newPartition(id string, epoch uint64, validUntil time.Time) *partition {
	p := &partition{id: id, c: c, epoch: epoch, done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.fetch, p.stop = context.WithCancel(p.ctx)
	p.extend(validUntil)
	return p
}

// extend moves the end of the lease's certain validity (a renewal sent at t
// succeeded: nobody can claim it before t + TTL).
func (p *partition) extend(until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := until.Sub(p.c.now())
	if p.fence == nil {
		p.fence = time.AfterFunc(d, p.expire)
		return
	}
	p.fence.Reset(d)
}

// expire fences the partition: its lease may have passed to another replica.
func (p *partition) expire() {
	if p.ctx.Err() == nil {
		p.c.log.Warn("partition lease not renewed in time: stopping its work", "partition", p.id)
		p.cancel()
	}
}

// fenced reports whether the partition's work must stop.
func (p *partition) fenced() bool { return p.ctx.Err() != nil }

// end stops the fence timer (the partition is gone).
func (p *partition) end() {
	p.mu.Lock()
	if p.fence != nil {
		p.fence.Stop()
	}
	p.mu.Unlock()
	p.cancel()
}

// run is the fetch loop: it consumes the partition's durable consumer until
// the partition stops, recreating the consumer (when allowed) and the
// iterator whenever consumption breaks: a deleted consumer, missing
// heartbeats after a NATS restart, a lost stream.
func (p *partition) run() {
	defer close(p.done)
	defer p.consuming.Store(false)
	backoff := 100 * time.Millisecond
	for p.fetch.Err() == nil {
		err := p.consume()
		p.consuming.Store(false)
		if p.fetch.Err() != nil {
			return
		}
		p.c.metrics.ConsumeRestarts.WithLabelValues(p.id).Inc()
		p.c.log.Warn("partition consumption interrupted; recovering", "partition", p.id, "err", err, "retry_in", backoff)
		if ctxtime.Sleep(p.fetch, backoff) != nil {
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// consume runs one iterator until it breaks or the partition stops.
func (p *partition) consume() error {
	t := p.c.topo
	cons, err := p.c.consumer(p.fetch, p.id)
	if err != nil {
		return err
	}
	if err := p.expectUnsettled(cons); err != nil {
		return err
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(p.c.opts.Batch), jetstream.PullExpiry(p.c.opts.PullExpiry),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return err
	}
	// When the partition stops, the iterator drains: the events it fetched
	// ahead come out of Next and are released (Nak) below, not left
	// unsettled until the ack wait.
	stop := context.AfterFunc(p.fetch, iter.Drain)
	defer stop()
	defer iter.Stop()
	p.consuming.Store(true)
	for {
		msg, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && p.fetch.Err() != nil {
				return nil
			}
			return err
		}
		d, err := newDelivery(msg, t, p.id, p.epoch)
		if err != nil {
			p.c.log.Error("message without metadata", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			continue
		}
		if p.fetch.Err() != nil {
			_ = msg.Nak()
			continue
		}
		p.c.disp.dispatch(d)
	}
}

// expectUnsettled holds, for each key, the deliveries after those the
// partition's previous owner left unsettled: every sequence between the
// consumer's ack floor and its last delivery that is not settled may still
// be in another replica's hands or about to be redelivered. The lanes of the
// keys concerned wait for those sequences to come back here or to be
// settled (the ack floor passes them); other keys run at once.
func (p *partition) expectUnsettled(cons jetstream.Consumer) error {
	info, err := cons.Info(p.fetch)
	if err != nil {
		return err
	}
	if info.NumAckPending == 0 {
		return nil
	}
	floor, last := info.AckFloor.Stream, info.Delivered.Stream
	stream, err := p.c.js.Stream(p.fetch, p.c.topo.Stream)
	if err != nil {
		return err
	}
	byKey := map[string][]uint64{}
	tenants := map[string]string{}
	for seq := floor + 1; seq <= last; seq++ {
		m, err := stream.GetMsg(p.fetch, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		key, tenant := keyOf(p.c.topo, m.Subject)
		byKey[key] = append(byKey[key], seq)
		tenants[key] = tenant
	}
	for key, seqs := range byKey {
		p.c.disp.expect(key, tenants[key], p.id, seqs)
	}
	p.c.log.Info("partition taken over with unsettled events; their incidents wait for them", "partition", p.id,
		"ack_pending", info.NumAckPending, "incidents", len(byKey), "from_seq", floor+1, "to_seq", last)
	return nil
}

// keyOf is the ordering key and tenant of a subject, as newDelivery makes it.
func keyOf(t broker.Topology, subj string) (string, string) {
	tenant, inc := subjectTokens(t, subj)
	if tenant == "" {
		return subj, ""
	}
	return tenant + "/" + inc, tenant
}
