package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/tracing"
)

// Options are a Consumer's dependencies and settings.
type Options struct {
	JS       jetstream.JetStream
	Topology broker.Topology
	// Coord is the coordination bucket (leases, members); its TTL is the
	// topology's LeaseTTL.
	Coord   jetstream.KeyValue
	Handler Handler
	Log     *slog.Logger
	Metrics *telemetry.Metrics
	Now     func() time.Time
	// Tracer traces each delivery handled (see startSpan). Default (nil):
	// no traces.
	Tracer trace.TracerProvider

	// ID names this replica in leases. Required.
	ID string
	// Concurrency bounds the events handled at once. Default 32.
	Concurrency int
	// Batch is the number of events fetched ahead per partition. Default 256
	// (one tenant is one partition: its fetch loop feeds every slot).
	Batch int
	// PullExpiry is the life of one pull request; missing heartbeats are
	// noticed within about half of it. Default 5s.
	PullExpiry time.Duration
	// Create lets consumption recreate a deleted consumer (and the stream).
	Create bool
	// DrainTimeout bounds the drain of a released partition and of shutdown.
	// Default 30s.
	DrainTimeout time.Duration
	// RenewInterval is the lease round period. Default LeaseTTL/3.
	RenewInterval time.Duration
	// LeaseSafety is how long before its TTL a lease not renewed stops the
	// partition's work. Default LeaseTTL/3.
	LeaseSafety time.Duration
	// RetryBase and RetryMax shape the redelivery backoff when the handler
	// gave no delay. Defaults 2s and 5m.
	RetryBase, RetryMax time.Duration
	// OnSettled, when set, is told of every settled event. It must not block.
	OnSettled func(Settlement)
	// OnRelease, when set, is told of a partition this replica gave up.
	OnRelease func(partition string)
}

// Consumer consumes the partitions this replica owns. Build it with New and
// run it with Run.
type Consumer struct {
	opts    Options
	js      jetstream.JetStream
	topo    broker.Topology
	log     *slog.Logger
	metrics *telemetry.Metrics
	now     func() time.Time
	tracer  trace.Tracer

	disp     *dispatcher
	owned    map[string]*owned // the lease goroutine's own
	current  sync.Map          // partition id -> *partition, for handlings
	released chan string
	wg       sync.WaitGroup
	running  atomic.Bool
	balanced atomic.Bool
	// lastRound is when the last lease round reached the coordination
	// bucket (Unix nanoseconds).
	lastRound atomic.Int64
	drainErr  error // set by the lease goroutine before Run reads it
}

// New checks the options and builds a Consumer.
func New(o Options) (*Consumer, error) {
	switch {
	case o.JS == nil, o.Coord == nil, o.Handler == nil:
		return nil, errors.New("consume: JetStream, the coordination bucket and a handler are required")
	case o.ID == "":
		return nil, errors.New("consume: an ID is required")
	}
	if err := o.Topology.Validate(); err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = telemetry.NewMetrics()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ttl := o.Topology.LeaseTTL
	for _, d := range []struct {
		d *time.Duration
		v time.Duration
	}{
		{&o.DrainTimeout, 30 * time.Second}, {&o.RetryBase, 2 * time.Second}, {&o.RetryMax, 5 * time.Minute},
		{&o.RenewInterval, ttl / 3}, {&o.LeaseSafety, ttl / 3}, {&o.PullExpiry, 5 * time.Second},
	} {
		if *d.d <= 0 {
			*d.d = d.v
		}
	}
	if o.RenewInterval <= 0 {
		o.RenewInterval = time.Second
	}
	if o.LeaseSafety >= ttl {
		return nil, fmt.Errorf("consume: lease safety %v must be shorter than the lease TTL %v", o.LeaseSafety, ttl)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	c := &Consumer{opts: o, js: o.JS, topo: o.Topology, log: o.Log, metrics: o.Metrics, now: o.Now, owned: map[string]*owned{},
		released: make(chan string, len(o.Topology.PartitionIDs())), tracer: tracing.OrNoop(o.Tracer).Tracer(tracing.Scope + "/internal/consume")}
	c.disp = newDispatcher(o.Concurrency, c.deliver)
	return c, nil
}

// Run consumes until ctx ends, then drains: it stops fetching, releases the
// events queued, lets the running ones finish (up to DrainTimeout, then
// cancels them: they are released) and gives up its partitions. Every
// goroutine it starts has ended when it returns. The error says when the
// drain ran out of time.
func (c *Consumer) Run(ctx context.Context) error {
	c.running.Store(true)
	defer c.running.Store(false)
	c.log.Info("consumer started", "id", c.opts.ID, "partitions", len(c.topo.PartitionIDs()), "concurrency", c.opts.Concurrency)
	var pool sync.WaitGroup
	for range c.opts.Concurrency {
		pool.Add(1)
		go func() {
			defer pool.Done()
			c.disp.loop()
		}()
	}
	mctx, stopMaintenance := context.WithCancel(context.Background())
	var maint sync.WaitGroup
	maint.Add(1)
	go func() {
		defer maint.Done()
		c.maintain(mctx)
	}()
	start := time.Now()
	c.leases(ctx) // returns after releasing every partition
	c.wg.Wait()
	c.disp.close()
	pool.Wait()
	stopMaintenance()
	maint.Wait()
	c.log.Info("consumer drained", "took", time.Since(start), "err", errString(c.drainErr))
	return c.drainErr
}

// Ready reports whether the replica consumes: a lease round reached the
// coordination bucket within the lease TTL, and every partition it owns has
// a live iterator.
func (c *Consumer) Ready(context.Context) error {
	if !c.running.Load() || !c.balanced.Load() {
		return errors.New("not consuming yet")
	}
	if since := c.now().Sub(time.Unix(0, c.lastRound.Load())); since > c.topo.LeaseTTL {
		return fmt.Errorf("the coordination bucket has not answered for %v: partitions cannot be held", since.Round(time.Millisecond))
	}
	var stalled []string
	c.current.Range(func(k, v any) bool {
		if p := v.(*partition); !p.fenced() && p.fetch.Err() == nil && !p.consuming.Load() {
			stalled = append(stalled, k.(string))
		}
		return true
	})
	if len(stalled) > 0 {
		return fmt.Errorf("partitions not being consumed: %v", stalled)
	}
	return nil
}

// Partitions returns the partitions this replica consumes now.
func (c *Consumer) Partitions() []string {
	var out []string
	c.current.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	return out
}

// deliver handles and settles one delivery, in the context of its
// partition: a delivery of a partition no longer ours is released unhandled.
func (c *Consumer) deliver(d *Delivery) bool {
	v, ok := c.current.Load(d.Partition)
	p, _ := v.(*partition)
	if !ok || p.epoch != d.Epoch || p.fenced() {
		c.settle(d, Result{Verdict: Release, Reason: "released"})
		return false
	}
	ctx, span := c.startSpan(p.ctx, d)
	c.metrics.InFlight.Inc()
	defer c.metrics.InFlight.Dec()
	r := c.opts.Handler(ctx, d)
	pending := c.settle(d, r)
	endSpan(span, d, r)
	return pending
}

// consumer returns a partition's durable consumer, recreating it (and the
// stream) when it is missing and creation is allowed.
func (c *Consumer) consumer(ctx context.Context, id string) (jetstream.Consumer, error) {
	name := c.topo.ConsumerName(id)
	cons, err := c.js.Consumer(ctx, c.topo.Stream, name)
	if err == nil || !c.opts.Create || !(errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)) {
		return cons, err
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		c.log.Warn("stream missing: creating it", "stream", c.topo.Stream)
		if err := broker.EnsureStream(ctx, c.js, c.topo, true); err != nil {
			return nil, err
		}
	}
	c.log.Warn("consumer missing: creating it", "consumer", name)
	return c.js.CreateOrUpdateConsumer(ctx, c.topo.Stream, c.topo.ConsumerConfig(id))
}

// maintain heartbeats the deliveries in hand (InProgress, so JetStream does
// not redeliver what waits or runs here), frees lanes waiting for sequences
// settled elsewhere (the ack floor passed them), and reports lag.
func (c *Consumer) maintain(ctx context.Context) {
	heartbeat := time.NewTicker(max(c.topo.AckWait/3, 500*time.Millisecond))
	defer heartbeat.Stop()
	floors := time.NewTicker(500 * time.Millisecond)
	defer floors.Stop()
	lag := time.NewTicker(5 * time.Second)
	defer lag.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			c.disp.each(func(d *Delivery) { _ = d.Msg.InProgress() })
		case <-floors.C:
			for id := range c.disp.waiting() {
				if info, err := c.info(ctx, id); err == nil {
					c.disp.settled(id, info.AckFloor.Stream)
				}
			}
		case <-lag.C:
			for _, id := range c.Partitions() {
				if info, err := c.info(ctx, id); err == nil {
					c.metrics.ConsumerPending.WithLabelValues(id).Set(float64(info.NumPending))
					c.metrics.AckPending.WithLabelValues(id).Set(float64(info.NumAckPending))
				}
			}
		}
	}
}

func (c *Consumer) info(ctx context.Context, id string) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cons, err := c.js.Consumer(ctx, c.topo.Stream, c.topo.ConsumerName(id))
	if err != nil {
		return nil, err
	}
	return cons.Info(ctx)
}
