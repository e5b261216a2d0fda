package consume

import (
	"slices"
	"sort"
	"sync"
)

// dispatcher runs deliveries with one lane per key (tenant/incident): a lane
// handles its deliveries one at a time in stream order; different lanes run
// concurrently on a fixed pool of goroutines, and one tenant runs at most
// its share of the pool (the pool divided by the tenants with work; alone,
// seven eighths of it), so a throttled tenant cannot hold every slot.
//
// A lane also waits for sequences that must come back or be settled before
// its later deliveries run: its own retries (naked for redelivery), and,
// after a takeover, the deliveries the previous owner left unsettled.
type dispatcher struct {
	run  func(*Delivery) (pending bool)
	size int

	mu         sync.Mutex
	cond       *sync.Cond
	lanes      map[string]*lane
	ready      []*lane
	running    int
	tenantRun  map[string]int // running deliveries per tenant
	tenantBusy map[string]int // lanes with queued or running deliveries per tenant
	closed     bool
}

type lane struct {
	key, tenant, partition string
	queue                  []*Delivery // by stream sequence
	running                *Delivery
	waits                  []uint64 // sorted
	inReady, busy, dropped bool
}

func newDispatcher(size int, run func(*Delivery) bool) *dispatcher {
	p := &dispatcher{run: run, size: size, lanes: map[string]*lane{}, tenantRun: map[string]int{}, tenantBusy: map[string]int{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// laneOf returns the lane of a key, creating it (mu held).
func (p *dispatcher) laneOf(key, tenant, partition string) *lane {
	l := p.lanes[key]
	if l == nil {
		l = &lane{key: key, tenant: tenant, partition: partition}
		p.lanes[key] = l
	}
	// A lane dropped with its partition whose delivery still runs serves
	// the partition again when it comes back: its key stays one at a time.
	l.dropped, l.partition = false, partition
	return l
}

// dispatch queues a delivery on its lane. A delivery of a sequence the lane
// already holds (a redelivery while the first is in hand) is dropped.
func (p *dispatcher) dispatch(d *Delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.laneOf(d.Key, d.Tenant, d.Partition)
	seq := d.Seq()
	if (l.running != nil && l.running.Seq() == seq) || slices.ContainsFunc(l.queue, func(q *Delivery) bool { return q.Seq() == seq }) {
		return
	}
	if i, ok := slices.BinarySearch(l.waits, seq); ok {
		l.waits = slices.Delete(l.waits, i, i+1)
	}
	i := sort.Search(len(l.queue), func(i int) bool { return l.queue[i].Seq() > seq })
	l.queue = slices.Insert(l.queue, i, d)
	p.update(l)
}

// expect makes a lane wait for seqs before running later deliveries.
func (p *dispatcher) expect(key, tenant, partition string, seqs []uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.laneOf(key, tenant, partition)
	for _, s := range seqs {
		if i, ok := slices.BinarySearch(l.waits, s); !ok {
			l.waits = slices.Insert(l.waits, i, s)
		}
	}
	p.update(l)
}

// settled forgets the waits of a partition up to its ack floor: those
// deliveries were settled (elsewhere, or before).
func (p *dispatcher) settled(partition string, floor uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lanes {
		if l.partition != partition || len(l.waits) == 0 || l.waits[0] > floor {
			continue
		}
		i, _ := slices.BinarySearch(l.waits, floor+1)
		l.waits = slices.Delete(l.waits, 0, i)
		p.update(l)
	}
}

// waiting lists the partitions with lanes waiting for a sequence.
func (p *dispatcher) waiting() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for _, l := range p.lanes {
		if len(l.waits) > 0 {
			out[l.partition] = true
		}
	}
	return out
}

// update recomputes a lane's bookkeeping after a change (mu held): the
// tenant's busy count, its place in the ready list, and its removal once
// empty.
func (p *dispatcher) update(l *lane) {
	busy := !l.dropped && (len(l.queue) > 0 || l.running != nil)
	if busy != l.busy {
		l.busy = busy
		if busy {
			p.tenantBusy[l.tenant]++
		} else if p.tenantBusy[l.tenant]--; p.tenantBusy[l.tenant] == 0 {
			delete(p.tenantBusy, l.tenant)
		}
	}
	if !l.inReady && p.runnable(l) {
		l.inReady = true
		p.ready = append(p.ready, l)
		p.cond.Broadcast()
	}
	if l.running == nil && !l.inReady && (l.dropped || (len(l.queue) == 0 && len(l.waits) == 0)) && p.lanes[l.key] == l {
		delete(p.lanes, l.key)
	}
}

func (p *dispatcher) runnable(l *lane) bool {
	return !l.dropped && l.running == nil && len(l.queue) > 0 && (len(l.waits) == 0 || l.queue[0].Seq() <= l.waits[0])
}

// share is the most deliveries one tenant may run at once (mu held): the
// pool divided among the tenants with work, less an eighth of it kept free
// while one tenant is alone, so that a tenant arriving while another one's
// deliveries are stuck (Graph throttles it) finds slots at once.
func (p *dispatcher) share() int {
	if len(p.tenantBusy) <= 1 {
		return max(1, p.size-p.size/8)
	}
	return max(1, p.size/len(p.tenantBusy))
}

// next takes the first ready lane whose tenant is under its share, waiting
// for one; nil once closed (mu held).
func (p *dispatcher) next() *lane {
	for {
		if p.closed {
			return nil
		}
		share := p.share()
		for i, l := range p.ready {
			if p.tenantRun[l.tenant] >= share {
				continue
			}
			p.ready = slices.Delete(p.ready, i, i+1)
			l.inReady = false
			if p.runnable(l) {
				return l
			}
			p.update(l)
			break
		}
		if len(p.ready) == 0 || p.readyBlocked(share) {
			p.cond.Wait()
		}
	}
}

// readyBlocked reports whether every ready lane's tenant is at its share.
func (p *dispatcher) readyBlocked(share int) bool {
	for _, l := range p.ready {
		if p.tenantRun[l.tenant] < share {
			return false
		}
	}
	return true
}

// loop is one goroutine of the pool: it runs one delivery at a time of the
// ready lanes until the dispatcher is closed.
func (p *dispatcher) loop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		l := p.next()
		if l == nil {
			return
		}
		d := l.queue[0]
		l.queue = l.queue[1:]
		l.running = d
		p.running++
		p.tenantRun[l.tenant]++
		p.mu.Unlock()
		pending := p.run(d)
		p.mu.Lock()
		l.running = nil
		p.running--
		if p.tenantRun[l.tenant]--; p.tenantRun[l.tenant] == 0 {
			delete(p.tenantRun, l.tenant)
		}
		if pending && !l.dropped {
			if i, ok := slices.BinarySearch(l.waits, d.Seq()); !ok {
				l.waits = slices.Insert(l.waits, i, d.Seq())
			}
		}
		p.update(l)
		p.cond.Broadcast()
	}
}

// drop removes a partition's lanes and returns their queued deliveries (to
// be released); running ones finish, and their lanes go with them.
func (p *dispatcher) drop(partition string) []*Delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Delivery
	for _, l := range p.lanes {
		if l.partition != partition {
			continue
		}
		out = append(out, l.queue...)
		l.queue, l.waits, l.dropped = nil, nil, true
		if l.inReady {
			l.inReady = false
			p.ready = slices.DeleteFunc(p.ready, func(r *lane) bool { return r == l })
		}
		p.update(l)
	}
	return out
}

// each calls fn for every delivery in hand, queued or running (heartbeats:
// JetStream must not redeliver what is still being handled or waiting).
func (p *dispatcher) each(fn func(*Delivery)) {
	p.mu.Lock()
	var all []*Delivery
	for _, l := range p.lanes {
		all = append(all, l.queue...)
		if l.running != nil {
			all = append(all, l.running)
		}
	}
	p.mu.Unlock()
	for _, d := range all {
		fn(d)
	}
}

// busy reports whether a delivery of the partition is running.
func (p *dispatcher) busy(partition string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lanes {
		if l.partition == partition && l.running != nil {
			return true
		}
	}
	return false
}

// inFlight counts running deliveries.
func (p *dispatcher) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

// close stops the pool: no delivery starts after it; running ones finish.
func (p *dispatcher) close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}
