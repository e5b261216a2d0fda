package consume

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func delivery(tenant, incident string, seq uint64) *Delivery {
	return &Delivery{Meta: &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: seq}},
		Tenant: tenant, Incident: incident, Key: tenant + "/" + incident, Partition: "p-" + tenant}
}

// pool runs a dispatcher with n goroutines until the test ends.
func pool(t *testing.T, n int, run func(*Delivery) bool) *dispatcher {
	t.Helper()
	p := newDispatcher(n, run)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() { defer wg.Done(); p.loop() }()
	}
	t.Cleanup(func() { p.close(); wg.Wait() })
	return p
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestLanesKeepOrderPerKeyAndRunKeysConcurrently: deliveries dispatched out
// of order run in stream order per key, one at a time, while different keys
// overlap.
func TestLanesKeepOrderPerKeyAndRunKeysConcurrently(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]uint64{}
	running := map[string]int{}
	var overlap, peak atomic.Int64
	start := make(chan struct{})
	p := pool(t, 8, func(d *Delivery) bool {
		<-start
		mu.Lock()
		running[d.Key]++
		if running[d.Key] > 1 {
			mu.Unlock()
			t.Errorf("key %s ran twice at once", d.Key)
			return false
		}
		got[d.Key] = append(got[d.Key], d.Seq())
		mu.Unlock()
		if n := overlap.Add(1); n > peak.Load() {
			peak.Store(n)
		}
		time.Sleep(2 * time.Millisecond)
		overlap.Add(-1)
		mu.Lock()
		running[d.Key]--
		mu.Unlock()
		return false
	})
	// Dispatched in reverse stream order (redeliveries come after later
	// events), held until all are queued: each key runs in stream order.
	for s := uint64(200); s >= 1; s-- {
		p.dispatch(delivery("t1", fmt.Sprint(s%5), s))
	}
	close(start)
	waitUntil(t, "every delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, l := range got {
			n += len(l)
		}
		return n == 200
	})
	mu.Lock()
	defer mu.Unlock()
	for k, l := range got {
		// The first of each key may have been taken before the rest
		// arrived (it waits at the gate): the others follow in order.
		if !slices.IsSorted(l[1:]) {
			t.Errorf("key %s out of order: %v", k, l)
		}
	}
	if peak.Load() < 2 {
		t.Errorf("keys never ran concurrently (peak %d)", peak.Load())
	}
}

// TestRetryHoldsTheKeyUntilItComesBack: a delivery left pending (retry)
// holds its key's later deliveries until it is dispatched again or settled.
func TestRetryHoldsTheKeyUntilItComesBack(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []uint64
	first := true
	p := pool(t, 4, func(d *Delivery) bool {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, d.Seq())
		if d.Seq() == 1 && first {
			first = false
			return true // naked for redelivery
		}
		return false
	})
	p.dispatch(delivery("t1", "a", 1))
	waitUntil(t, "the first attempt", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 1 })
	p.dispatch(delivery("t1", "a", 2))
	p.dispatch(delivery("t1", "b", 3))
	waitUntil(t, "the other key", func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(order, 3) })
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if slices.Contains(order, 2) {
		t.Fatalf("seq 2 ran before the retried seq 1 came back: %v", order)
	}
	mu.Unlock()
	p.dispatch(delivery("t1", "a", 1)) // the redelivery
	waitUntil(t, "the rest", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 4 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []uint64{1, 3, 1, 2}) {
		t.Errorf("order %v, want [1 3 1 2]", order)
	}
}

// TestTakeoverWaitsOnlyForTheKeysWithUnsettledEvents: after a takeover, a
// key with a sequence the previous owner left unsettled waits for it (or for
// the ack floor to pass it); other keys run at once.
func TestTakeoverWaitsOnlyForTheKeysWithUnsettledEvents(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var ran []uint64
	p := pool(t, 4, func(d *Delivery) bool {
		mu.Lock()
		ran = append(ran, d.Seq())
		mu.Unlock()
		return false
	})
	p.expect("t1/a", "t1", "p-t1", []uint64{5})
	p.dispatch(delivery("t1", "a", 9))
	p.dispatch(delivery("t1", "b", 10))
	waitUntil(t, "the free key", func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(ran, 10) })
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	if slices.Contains(ran, 9) {
		t.Fatalf("seq 9 ran while seq 5 of its key was unsettled: %v", ran)
	}
	mu.Unlock()
	if !p.waiting()["p-t1"] {
		t.Error("the partition is not reported as waiting")
	}
	p.settled("p-t1", 5) // the ack floor passed seq 5: settled elsewhere
	waitUntil(t, "the held key", func() bool { mu.Lock(); defer mu.Unlock(); return slices.Contains(ran, 9) })
}

// TestThrottledTenantHoldsOnlyItsShare: a tenant whose deliveries block
// (Graph's 429 pause) runs at most its share of the pool (alone: all but an
// eighth); another tenant's deliveries keep flowing on the slots left.
func TestThrottledTenantHoldsOnlyItsShare(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var slow, done atomic.Int64
	p := pool(t, 8, func(d *Delivery) bool {
		if d.Tenant == "throttled" {
			slow.Add(1)
			<-release
			return false
		}
		done.Add(1)
		return false
	})
	defer close(release)
	for i := range 20 {
		p.dispatch(delivery("throttled", fmt.Sprint(i), uint64(i+1)))
	}
	waitUntil(t, "the throttled tenant busy", func() bool { return slow.Load() > 0 })
	for i := range 20 {
		p.dispatch(delivery("healthy", fmt.Sprint(i), uint64(100+i)))
	}
	waitUntil(t, "the healthy tenant's events", func() bool { return done.Load() == 20 })
	if n := slow.Load(); n > 7 {
		t.Errorf("the throttled tenant held %d of 8 slots, want at most 7 (an eighth kept for other tenants)", n)
	}
}

// TestDropReleasesAPartitionsQueue: dropping a partition returns its queued
// deliveries, forgets its waits and leaves other partitions alone.
func TestDropReleasesAPartitionsQueue(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var ran atomic.Int64
	p := pool(t, 1, func(d *Delivery) bool {
		if d.Seq() == 1 {
			<-block
		}
		ran.Add(1)
		return false
	})
	p.dispatch(delivery("t1", "a", 1))
	waitUntil(t, "the first running", func() bool { return p.busy("p-t1") })
	p.dispatch(delivery("t1", "a", 2))
	p.dispatch(delivery("t2", "x", 3))
	p.expect("t2/y", "t2", "p-t2", []uint64{1})
	queued := p.drop("p-t1")
	if len(queued) != 1 || queued[0].Seq() != 2 {
		t.Errorf("dropped %d deliveries, want seq 2", len(queued))
	}
	close(block)
	waitUntil(t, "the other partition", func() bool { return ran.Load() == 2 })
	if !p.waiting()["p-t2"] || p.waiting()["p-t1"] {
		t.Errorf("waits after the drop: %v", p.waiting())
	}
}
