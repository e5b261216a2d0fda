package approval_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/kv"
)

// bus records the decisions published.
type bus struct {
	mu   sync.Mutex
	msgs []broker.Message
}

func (b *bus) PublishAll(_ context.Context, msgs []broker.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, msgs...)
	return nil
}

func (b *bus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// clock is a settable now, safe across goroutines.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func held(c *clock) approval.Record {
	params := actions.Params{"tags": []string{"vip"}}
	return approval.Record{ID: approval.ID("t1", "42", "r", "tag", params), Tenant: "t1", Incident: "42", Rule: "r", Action: "tag",
		Params: params, Event: "e1", Subject: "security.incidents.t1.42", Created: c.now(), Deadline: c.now().Add(time.Hour)}
}

func TestHoldOnceThenDecideOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, b := newClock(), &bus{}
	st := approval.NewStore(&kv.Memory{}, b, c.now)
	rec := held(c)
	if _, created, err := st.Hold(ctx, rec); err != nil || !created {
		t.Fatalf("first hold: created %v, %v", created, err)
	}
	again := rec
	again.Event = "e2"
	got, created, err := st.Hold(ctx, again)
	if err != nil || created || got.Event != "e1" || got.Status != approval.Pending {
		t.Fatalf("second hold: %+v created %v, %v", got, created, err)
	}
	if _, err := st.Approve(ctx, rec.ID, ""); err == nil {
		t.Error("a decision without a name was accepted")
	}
	if _, err := st.Approve(ctx, "nope", "alice"); !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	// Approve and reject race: one decision wins, the other is told.
	var wg sync.WaitGroup
	var won atomic.Int32
	for _, decide := range []func(context.Context, string, string) (approval.Record, error){st.Approve, st.Reject} {
		wg.Go(func() {
			if _, err := decide(ctx, rec.ID, "alice"); err == nil {
				won.Add(1)
			} else if !errors.Is(err, approval.ErrDecided) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || b.count() != 1 {
		t.Fatalf("%d decisions won, %d published; want 1 and 1", won.Load(), b.count())
	}
	m := b.msgs[0]
	if m.Subject != rec.Subject || m.Header.Get(approval.Header) != rec.ID || m.MsgID == "" {
		t.Errorf("decision message %+v", m)
	}
	if ok, err := st.Finish(ctx, rec.ID, "applied", "", false); !ok || err != nil {
		t.Fatalf("finish: %v %v", ok, err)
	}
	if ok, _ := st.Finish(ctx, rec.ID, "failed", "x", false); ok {
		t.Error("finished twice")
	}
	if ok, _ := st.Finish(ctx, rec.ID, "failed", "x", true); !ok {
		t.Error("a decision carried out again did not record its new outcome")
	}
}

func TestDeadlinePassedCannotBeApproved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock()
	st := approval.NewStore(&kv.Memory{}, &bus{}, c.now)
	rec := held(c)
	if _, _, err := st.Hold(ctx, rec); err != nil {
		t.Fatal(err)
	}
	c.advance(2 * time.Hour)
	if _, err := st.Approve(ctx, rec.ID, "alice"); !errors.Is(err, approval.ErrDecided) {
		t.Errorf("approve past the deadline: %v", err)
	}
}

// TestSweepsExpireOnceAndResendWithBackoff: two replicas sweeping one
// bucket expire an action once; a decision not carried out is sent again
// after republishAfter, then after twice that, and so on, a bounded number
// of times.
func TestSweepsExpireOnceAndResendWithBackoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, b := newClock(), &bus{}
	bucket := &kv.Memory{}
	a, z := approval.NewStore(bucket, b, c.now), approval.NewStore(bucket, b, c.now)
	rec := held(c)
	if _, _, err := a.Hold(ctx, rec); err != nil {
		t.Fatal(err)
	}
	c.advance(2 * time.Hour)
	var wg sync.WaitGroup
	var expired atomic.Int32
	for _, st := range []*approval.Store{a, z} {
		wg.Go(func() {
			n, _, err := st.Sweep(ctx, time.Minute)
			if err != nil {
				t.Error(err)
			}
			expired.Add(int32(n))
		})
	}
	wg.Wait()
	if expired.Load() != 1 || b.count() != 1 {
		t.Fatalf("expired %d times, %d decisions published; want 1 and 1", expired.Load(), b.count())
	}
	// Not carried out: resent after 1m, 2m, 4m, ... at most six times.
	var resends []time.Duration
	start := c.now()
	for range 200 {
		c.advance(30 * time.Second)
		for _, st := range []*approval.Store{a, z} {
			if _, n, err := st.Sweep(ctx, time.Minute); err != nil {
				t.Fatal(err)
			} else if n > 0 {
				resends = append(resends, c.now().Sub(start))
			}
		}
	}
	want := []time.Duration{time.Minute, 3 * time.Minute, 7 * time.Minute, 15 * time.Minute, 31 * time.Minute, 63 * time.Minute}
	if len(resends) != len(want) {
		t.Fatalf("resent at %v, want %v", resends, want)
	}
	for i := range want {
		if resends[i] != want[i] {
			t.Errorf("resend %d at %v, want %v", i+1, resends[i], want[i])
		}
	}
	if b.count() != 1+len(want) {
		t.Errorf("%d decisions published", b.count())
	}
}
