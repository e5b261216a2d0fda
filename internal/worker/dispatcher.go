package worker

import (
	"sort"
	"sync"
	"time"
)

// dispatcher runs deliveries with one lane per key (incident): a lane handles
// its deliveries one at a time in stream order, different lanes run
// concurrently up to a bound. When a delivery is left pending for redelivery
// (a retry), its lane holds every later delivery until that one comes back
// and is settled, so a retry never lets a later event of the incident pass.
type dispatcher struct {
	sem    chan struct{}
	handle func(*Delivery) (pending bool)
	// maxHold bounds how long a lane waits for a redelivery that may never
	// come (the event expired from the stream, or went to another replica).
	maxHold func(*Delivery) time.Duration
	now     func() time.Time

	mu    sync.Mutex
	lanes map[string]*lane
	wg    sync.WaitGroup
}

type lane struct {
	queue     []*Delivery // waiting, by stream sequence
	running   *Delivery
	blocked   uint64 // stream sequence of the pending delivery; 0: none
	blockedAt time.Time
	hold      time.Duration
}

func newDispatcher(concurrency int, handle func(*Delivery) bool, maxHold func(*Delivery) time.Duration, now func() time.Time) *dispatcher {
	return &dispatcher{sem: make(chan struct{}, concurrency), handle: handle, maxHold: maxHold, now: now, lanes: map[string]*lane{}}
}

func seqOf(d *Delivery) uint64 { return d.Meta.Sequence.Stream }

// dispatch queues a delivery on its lane and starts the lane if it is idle.
// It blocks while the concurrency bound is reached (backpressure on fetching).
func (p *dispatcher) dispatch(d *Delivery) {
	p.mu.Lock()
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
	start := l.running == nil && p.runnable(l)
	if start {
		l.running = l.queue[0]
	}
	p.mu.Unlock()
	if start {
		p.sem <- struct{}{}
		p.wg.Add(1)
		go p.run(d.Key)
	}
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

func (p *dispatcher) run(key string) {
	defer p.wg.Done()
	defer func() { <-p.sem }()
	for {
		p.mu.Lock()
		l := p.lanes[key]
		if l == nil || !p.runnable(l) {
			if l != nil {
				l.running = nil
				if len(l.queue) == 0 && l.blocked == 0 {
					delete(p.lanes, key)
				}
			}
			p.mu.Unlock()
			return
		}
		d := l.queue[0]
		l.queue = l.queue[1:]
		l.running = d
		p.mu.Unlock()

		pending := p.handle(d)

		p.mu.Lock()
		if pending {
			l.blocked, l.blockedAt, l.hold = seqOf(d), p.now(), p.maxHold(d)
		}
		p.mu.Unlock()
	}
}

// recheck starts lanes whose hold has expired.
func (p *dispatcher) recheck() {
	p.mu.Lock()
	var start []string
	for k, l := range p.lanes {
		if l.running == nil && p.runnable(l) {
			l.running = l.queue[0]
			start = append(start, k)
		}
	}
	p.mu.Unlock()
	for _, k := range start {
		p.sem <- struct{}{}
		p.wg.Add(1)
		go p.run(k)
	}
}

// waiting calls fn for every queued (not running) delivery, for heartbeats.
func (p *dispatcher) waiting(fn func(*Delivery)) {
	p.mu.Lock()
	var all []*Delivery
	for _, l := range p.lanes {
		all = append(all, l.queue...)
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
		if l.running == nil && len(l.queue) == 0 {
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
func (p *dispatcher) inFlight() int { return len(p.sem) }

// wait waits for every running lane to stop.
func (p *dispatcher) wait() { p.wg.Wait() }
