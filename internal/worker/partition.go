package worker

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// partition consumes one partition's durable consumer while this replica
// holds its lease.
//
// Taking over a partition from a replica that died, the consumer may still
// have events delivered to that replica and not settled; they come back only
// after the ack wait. Until every unsettled event of the consumer is in this
// replica's hands, fetched events are held, then released in stream order, so
// a failover never lets a later event of an incident pass an earlier one.
type partition struct {
	id   string
	w    *Worker
	cons jetstream.Consumer
	iter jetstream.MessagesContext
	done chan struct{}

	mu         sync.Mutex
	recovering bool
	held       []*Delivery
}

func (w *Worker) startPartition(ctx context.Context, id string) (*partition, error) {
	cons, err := w.js.Consumer(ctx, w.topo.Stream, w.topo.ConsumerName(id))
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	p := &partition{id: id, w: w, cons: cons, done: make(chan struct{}), recovering: info.NumAckPending > 0}
	p.iter, err = cons.Messages(jetstream.PullMaxMessages(w.opts.Batch), jetstream.WithMessagesErrOnMissingHeartbeat(false))
	if err != nil {
		return nil, err
	}
	if p.recovering {
		w.log.Info("partition taken over with unsettled events; holding new ones until they return",
			"partition", id, "ack_pending", info.NumAckPending)
	}
	go p.fetch()
	return p, nil
}

func (p *partition) fetch() {
	defer close(p.done)
	for {
		msg, err := p.iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			p.w.log.Warn("fetch", "partition", p.id, "err", err)
			continue
		}
		d, err := p.delivery(msg)
		if err != nil {
			p.w.log.Error("message without metadata", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			continue
		}
		p.mu.Lock()
		if p.recovering {
			p.held = append(p.held, d)
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		p.w.disp.dispatch(d)
	}
}

// delivery reads the metadata and the ordering key of a message: the tenant
// and incident from a partitioned subject (PREFIX.<p>.<tenant>.<incident>) or
// a contract subject (SUBJECT-PREFIX.<tenant>.<incident>).
func (p *partition) delivery(msg jetstream.Msg) (*Delivery, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, err
	}
	subj := msg.Subject()
	d := &Delivery{Msg: msg, Meta: meta, Partition: p.id, Key: subj}
	if rest, ok := strings.CutPrefix(subj, p.w.topo.PartitionPrefix+"."); ok {
		if _, rest, ok = strings.Cut(rest, "."); ok {
			d.Tenant, d.Incident = twoTokens(rest)
		}
	} else if rest, ok := strings.CutPrefix(subj, strings.TrimSuffix(p.w.topo.Subject, ">")); ok {
		d.Tenant, d.Incident = twoTokens(rest)
	}
	if d.Tenant != "" {
		d.Key = d.Tenant + "/" + d.Incident
	}
	return d, nil
}

// twoTokens splits "a.b" into a and b; anything else gives "", "".
func twoTokens(s string) (string, string) {
	a, b, ok := strings.Cut(s, ".")
	if !ok || a == "" || b == "" || strings.Contains(b, ".") {
		return "", ""
	}
	return a, b
}

// checkRecovery ends the hold once every unsettled event is held here.
func (p *partition) checkRecovery(ctx context.Context) {
	p.mu.Lock()
	if !p.recovering {
		p.mu.Unlock()
		return
	}
	held := len(p.held)
	p.mu.Unlock()
	info, err := p.cons.Info(ctx)
	if err != nil || info.NumAckPending > held {
		for _, d := range p.snapshotHeld() {
			_ = d.Msg.InProgress()
		}
		return
	}
	p.mu.Lock()
	out := p.held
	p.held, p.recovering = nil, false
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return seqOf(out[i]) < seqOf(out[j]) })
	p.w.log.Info("partition recovered", "partition", p.id, "held", len(out))
	for _, d := range out {
		p.w.disp.dispatch(d)
	}
}

func (p *partition) snapshotHeld() []*Delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Delivery(nil), p.held...)
}

// stop stops fetching, returns queued events for redelivery elsewhere, waits
// (up to ctx) for running ones and stores the partition's incident state.
func (p *partition) stop(ctx context.Context) error {
	p.iter.Drain()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.iter.Stop()
	}
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, d := range append(held, p.w.disp.evict(p.id)...) {
		_ = d.Msg.Nak()
	}
	for p.w.disp.busy(p.id) {
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			break
		}
	}
	return p.w.states.flush(ctx, p.id, true)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
