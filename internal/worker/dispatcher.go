package worker

import (
	"sort"
	"sync"
	"time"
)

// dispatcher runs deliveries with one lane per key (incident): a lane handles
// its deliveries one at a time in stream order, different lanes run
// concurrently on a fixed pool of goroutines. When a delivery is left pending
// for redelivery (a retry), its lane holds every later delivery until that one
// comes back and is settled, so a retry never lets a later event of the
// incident pass.
type dispatcher struct {
	handle func(*Delivery) (pending bool)
	// maxHold bounds how long a lane waits for a redelivery that may never
	// come (the event expired from the stream, or went to another replica).
	maxHold func(*Delivery) time.Duration
	now     func() time.Time

	mu      sync.Mutex
	cond    *sync.Cond
	lanes   map[string]*lane
	ready   []string // runnable lanes not running, in order
	running int
	closed  bool
	wg      sync.WaitGroup
}

type lane struct {
	queue     []*Delivery // waiting, by stream sequence
	running   *Delivery
	scheduled bool   // in ready or running
	blocked   uint64 // stream sequence of the pending delivery; 0: none
	blockedAt time.Time
	hold      time.Duration
}

func newDispatcher(concurrency int, handle func(*Delivery) bool, maxHold func(*Delivery) time.Duration, now func() time.Time) *dispatcher {
	p := &dispatcher{handle: handle, maxHold: maxHold, now: now, lanes: map[string]*lane{}}
	p.cond = sync.NewCond(&p.mu)
	for range concurrency {
		p.wg.Add(1)
		go p.loop()
	}
	return p
}

func seqOf(d *Delivery) uint64 { return d.Meta.Sequence.Stream }

// dispatch queues a delivery on its lane and schedules the lane if it can run.
func (p *dispatcher) dispatch(d *Delivery) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[d.Key]
	if l == nil {
		l = &lane{}
		p.lanes[d.Key] = l
	}
	if l.blocked != 0 && seqOf(d) == l.blocked {
		l.blocked = 0
	}
	// Keep the queue in stream order (a redelivery comes after later events).
	i := sort.Search(len(l.queue), func(i int) bool { return seqOf(l.queue[i]) > seqOf(d) })
	l.queue = append(l.queue, nil)
	copy(l.queue[i+1:], l.queue[i:])
	l.queue[i] = d
	p.schedule(d.Key, l)
}

// schedule puts a runnable, idle lane on the ready list (mu held).
func (p *dispatcher) schedule(key string, l *lane) {
	if l.scheduled || !p.runnable(l) {
		return
	}
	l.scheduled = true
	p.ready = append(p.ready, key)
	p.cond.Signal()
}

// runnable reports whether a lane may run its next delivery (mu held).
func (p *dispatcher) runnable(l *lane) bool {
	if len(l.queue) == 0 {
		return false
	}
	if l.blocked != 0 && seqOf(l.queue[0]) > l.blocked {
		if p.now().Sub(l.blockedAt) < l.hold {
			return false
		}
		l.blocked = 0 // the pending delivery did not come back in time
	}
	return true
}

// loop is one of the pool's goroutines: it runs ready lanes until closed.
func (p *dispatcher) loop() {
	defer p.wg.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for len(p.ready) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.ready) == 0 && p.closed {
			return
		}
		key := p.ready[0]
		p.ready = p.ready[1:]
		l := p.lanes[key]
		if l == nil {
			continue
		}
		p.running++
		for p.runnable(l) {
			d := l.queue[0]
			l.queue = l.queue[1:]
			l.running = d
			p.mu.Unlock()
			pending := p.handle(d)
			p.mu.Lock()
			l.running = nil
			if pending {
				l.blocked, l.blockedAt, l.hold = seqOf(d), p.now(), p.maxHold(d)
			}
		}
		p.running--
		l.scheduled = false
		if len(l.queue) == 0 && l.blocked == 0 {
			delete(p.lanes, key)
		}
		p.cond.Broadcast() // wake waiters of idle()
	}
}

// recheck schedules lanes whose hold has expired.
func (p *dispatcher) recheck() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, l := range p.lanes {
		p.schedule(k, l)
	}
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

// evict removes the queued deliveries of a partition and returns them; lanes
// blocked by a delivery of the partition are released.
func (p *dispatcher) evict(partition string) []*Delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*Delivery
	for k, l := range p.lanes {
		keep := l.queue[:0]
		for _, d := range l.queue {
			if d.Partition == partition {
				out = append(out, d)
			} else {
				keep = append(keep, d)
			}
		}
		l.queue = keep
		if l.running == nil || l.running.Partition == partition {
			l.blocked = 0
		}
		if !l.scheduled && len(l.queue) == 0 {
			delete(p.lanes, k)
		}
	}
	return out
}

// busy reports whether a delivery of the partition is running or queued.
func (p *dispatcher) busy(partition string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.lanes {
		if l.running != nil && l.running.Partition == partition {
			return true
		}
		for _, d := range l.queue {
			if d.Partition == partition {
				return true
			}
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

// idle waits until no delivery runs, or until abandon is closed.
func (p *dispatcher) idle(abandon <-chan struct{}) bool {
	done := make(chan struct{})
	go func() {
		p.mu.Lock()
		for p.running > 0 {
			p.cond.Wait()
		}
		p.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-abandon:
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
		return false
	}
}

// close stops the pool once the ready lanes are run; it does not wait.
func (p *dispatcher) close() {
	p.mu.Lock()
	p.closed = true
	p.ready = nil
	p.cond.Broadcast()
	p.mu.Unlock()
}
