// Package loadtest measures the worker end to end in one process: an embedded
// NATS server with JetStream, the Graph emulator with a set latency, and the
// worker. It reports the raw JetStream consume rate of the same events beside
// the worker's rate, publish-to-settle latency percentiles and peak heap.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
	"github.com/graphsoar/graphsoar/internal/replica"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// Scenario is what the events ask of Graph.
type Scenario string

// The scenarios.
const (
	// NoMatch: no rule matches; no Graph call.
	NoMatch Scenario = "nomatch"
	// Write: every event makes one Graph write (a comment).
	Write Scenario = "write"
)

// Options configure one run.
type Options struct {
	Scenario Scenario
	// Events are published before the worker starts: the worker's rate is
	// how fast it drains them.
	Events int
	// Paced events are then published at half that rate; their publish-to-
	// settle latency is the latency reported.
	Paced     int
	Incidents int // NoMatch: the events are versions of this many incidents
	// Tenants spreads the incidents over this many tenants (partitions go by
	// tenant: one tenant is one partition). Default 1.
	Tenants     int
	Latency     time.Duration
	Concurrency int
	Partitions  int
	Batch       int // events fetched ahead per partition (0: the worker's default)
	// Rules evaluate the events (NoMatch: rules the events do not match).
	Rules *rules.RuleSet
	// Refresh makes the worker read the incident before writing (Write).
	Refresh bool
	Dir     string // JetStream storage
	Log     *slog.Logger
	// CPUProfile, when set, receives a CPU profile of the worker phase.
	CPUProfile io.Writer
}

// Report is the outcome of a run.
type Report struct {
	Options   Options
	RawRate   float64       // events/s: consume + ack of the same events
	Rate      float64       // events/s: the worker draining the published events
	PacedRate float64       // events/s of the paced phase
	Startup   time.Duration // from the worker's start to its first settled event
	// RawCPU and CPU are the process's CPU time per event (server, client
	// and worker together) in the raw and the worker phase.
	RawCPU, CPU time.Duration
	Ideal       float64 // Write: concurrency / (Graph calls per event × latency)
	P50, P99    time.Duration
	PeakHeapMiB float64
	Outcomes    map[string]int
	// Ratio, in a median report, is the median of the runs' rate ratios
	// (to the raw rate, or to the ideal for Write).
	Ratio float64
}

// Median reports the median of each figure over several runs of one option
// set (this machine's timings are noisy; a median of runs is the figure to
// quote).
func Median(reps []Report) Report {
	if len(reps) == 0 {
		return Report{}
	}
	med := func(f func(Report) float64) float64 {
		v := make([]float64, len(reps))
		for i, r := range reps {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	dur := func(f func(Report) time.Duration) time.Duration {
		return time.Duration(med(func(r Report) float64 { return float64(f(r)) }))
	}
	out := Report{Options: reps[0].Options, Outcomes: reps[0].Outcomes}
	out.RawRate = med(func(r Report) float64 { return r.RawRate })
	out.Rate = med(func(r Report) float64 { return r.Rate })
	out.Ideal = reps[0].Ideal
	out.Ratio = med(func(r Report) float64 {
		if r.Ideal > 0 {
			return r.Rate / r.Ideal
		}
		return r.Rate / r.RawRate
	})
	out.P50 = dur(func(r Report) time.Duration { return r.P50 })
	out.P99 = dur(func(r Report) time.Duration { return r.P99 })
	out.PeakHeapMiB = med(func(r Report) float64 { return r.PeakHeapMiB })
	out.RawCPU = dur(func(r Report) time.Duration { return r.RawCPU })
	out.CPU = dur(func(r Report) time.Duration { return r.CPU })
	return out
}

// Run publishes the events, measures the raw consume rate, then runs the
// worker over the same events.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	rep := Report{Options: o, Outcomes: map[string]int{}}
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Dir: o.Dir})
	if err != nil {
		return rep, err
	}
	defer emb.Shutdown()
	nc, err := nats.Connect(emb.URL())
	if err != nil {
		return rep, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return rep, err
	}
	topo := broker.DefaultTopology()
	topo.Partitions = o.Partitions
	topo.MaxAckPending = 4 * o.Concurrency
	if err := broker.EnsureStream(ctx, js, topo, true); err != nil {
		return rep, err
	}
	if err := broker.EnsureSideStreams(ctx, js, topo); err != nil {
		return rep, err
	}
	buckets, err := broker.EnsureBuckets(ctx, js, topo)
	if err != nil {
		return rep, err
	}
	fake := graphfake.New(graphfake.Options{Open: true, Latency: o.Latency})
	backlog, err := events(o, fake, 0, o.Events)
	if err != nil {
		return rep, err
	}
	paced, err := events(o, fake, o.Events, o.Events+o.Paced)
	if err != nil {
		return rep, err
	}
	if err := publish(ctx, js, backlog); err != nil {
		return rep, err
	}
	// Each measured phase starts from a collected heap, so that garbage from
	// building and publishing events is not charged to it.
	runtime.GC()
	c0 := cpuTime()
	if rep.RawRate, err = rawRate(ctx, js, topo, o); err != nil {
		return rep, err
	}
	rep.RawCPU = (cpuTime() - c0) / time.Duration(o.Events)
	runtime.GC()
	if err := broker.EnsureConsumers(ctx, js, topo, true); err != nil {
		return rep, err
	}
	hs := httptest.NewServer(fake)
	defer hs.Close()
	client, err := graph.New(graph.Config{Root: hs.URL, Default: &graph.Credential{Auth: graph.AuthNone},
		IncidentRate: graph.RateLimit{PerMinute: -1}, SecurityActionRate: graph.RateLimit{PerMinute: -1},
		Defender: graph.Defender{URL: hs.URL, IndicatorRate: graph.RateLimit{PerMinute: -1}}})
	if err != nil {
		return rep, err
	}
	if err := runWorker(ctx, js, topo, buckets, client, o, paced, &rep); err != nil {
		return rep, err
	}
	if o.Scenario == Write && o.Latency > 0 {
		calls := 1.0
		if o.Refresh {
			calls = 2
		}
		rep.Ideal = float64(o.Concurrency) / (calls * o.Latency.Seconds())
	}
	return rep, nil
}

// event builds one CloudEvent: for NoMatch a phishing incident (which the
// benchmark rules do not match), for Write the bare incident.
func event(o Options, i int) (id string, body []byte, err error) {
	name := "phishing-created.json"
	var env map[string]any
	if err := json.Unmarshal(fixtures.Read(name), &env); err != nil {
		return "", nil, err
	}
	inc := env["data"].(map[string]any)
	n, version := i, 0
	if o.Scenario == NoMatch {
		n, version = i%o.Incidents, i/o.Incidents
	}
	id = fmt.Sprint(100000 + n)
	inc["id"] = id
	inc["tenantId"] = tenantOf(o, i)
	env["tenantid"] = tenantOf(o, i)
	// A recipient no rule singles out (the fixture's is a VIP of the starter
	// rules).
	for _, a := range inc["alerts"].([]any) {
		for _, ev := range a.(map[string]any)["evidence"].([]any) {
			if ua, ok := ev.(map[string]any)["userAccount"].(map[string]any); ok {
				ua["userPrincipalName"] = fmt.Sprintf("user%d@contoso.com", n)
			}
		}
	}
	// Versions in the last hour: in the past (the worker does not trust
	// versions from the future) and increasing.
	base := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	inc["lastUpdateDateTime"] = base.Add(time.Duration(version) * time.Second).Format(time.RFC3339)
	env["id"] = fmt.Sprintf("load-%d", i)
	env["subject"] = id
	env["type"] = "com.microsoft.graph.security.incident.updated"
	body, err = json.Marshal(env)
	return id, body, err
}

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

// tenantOf is the tenant of event i: the fixture's, or one of o.Tenants.
func tenantOf(o Options, i int) string {
	if o.Tenants <= 1 {
		return tenant
	}
	n := i
	if o.Scenario == NoMatch {
		n = i % o.Incidents
	}
	return fmt.Sprintf("%s-%d", tenant[:len(tenant)-2], n%o.Tenants)
}

// events builds events from..to and seeds their incidents in the emulator
// (Write).
func events(o Options, fake *graphfake.Server, from, to int) ([]*nats.Msg, error) {
	out := make([]*nats.Msg, 0, to-from)
	for i := from; i < to; i++ {
		id, body, err := event(o, i)
		if err != nil {
			return nil, err
		}
		if o.Scenario == Write {
			var env map[string]any
			_ = json.Unmarshal(body, &env)
			b, _ := json.Marshal(env["data"])
			if err := fake.Seed(b); err != nil {
				return nil, err
			}
		}
		m := nats.NewMsg("security.incidents." + tenantOf(o, i) + "." + id)
		m.Data = body
		out = append(out, m)
	}
	return out, nil
}

func publish(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) error {
	for i, m := range msgs {
		if _, err := js.PublishMsgAsync(m); err != nil {
			return err
		}
		if i%1000 == 999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-time.After(time.Minute):
		return errors.New("publishes not acknowledged")
	}
}

// rawRate consumes and acks every event with a plain consumer and the same
// concurrency: the ceiling of any JetStream consumer on this machine.
func rawRate(ctx context.Context, js jetstream.JetStream, topo broker.Topology, o Options) (float64, error) {
	cons, err := js.CreateOrUpdateConsumer(ctx, topo.Stream, jetstream.ConsumerConfig{
		Durable: "raw-baseline", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 4 * o.Concurrency,
	})
	if err != nil {
		return 0, err
	}
	defer js.DeleteConsumer(context.WithoutCancel(ctx), topo.Stream, "raw-baseline")
	var n atomic.Int64
	done := make(chan struct{})
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	var start time.Time
	cc, err := cons.Consume(func(m jetstream.Msg) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = m.Ack()
			switch n.Add(1) {
			case 1:
				start = time.Now()
			case int64(o.Events):
				close(done)
			}
		}()
	}, jetstream.PullMaxMessages(64))
	if err != nil {
		return 0, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		cc.Stop()
		return 0, ctx.Err()
	}
	d := time.Since(start)
	cc.Stop()
	wg.Wait()
	return float64(o.Events-1) / d.Seconds(), nil
}

func runWorker(ctx context.Context, js jetstream.JetStream, topo broker.Topology, buckets broker.Buckets,
	client *graph.Client, o Options, paced []*nats.Msg, rep *Report) error {
	var mu sync.Mutex
	settled := 0
	var firstSettle, lastBacklog time.Time
	var latencies []time.Duration
	backlogDone, pacedDone := make(chan struct{}), make(chan struct{})
	refresh := o.Refresh
	w, err := replica.New(replica.Options{
		JS: js, Topology: topo, Buckets: buckets, Rules: rules.Static{RS: o.Rules}, Graph: client, Log: o.Log,
		ID: "loadtest", Concurrency: o.Concurrency, Refresh: &refresh, ActionBudget: -1, Batch: o.Batch,
		OnSettled: func(s consume.Settlement) {
			mu.Lock()
			defer mu.Unlock()
			settled++
			rep.Outcomes[s.Outcome]++
			if settled == 1 {
				firstSettle = s.Settled
			}
			switch {
			case settled < o.Events:
			case settled == o.Events:
				lastBacklog = s.Settled
				close(backlogDone)
			default:
				latencies = append(latencies, s.Settled.Sub(s.Published))
				if settled == o.Events+o.Paced {
					close(pacedDone)
				}
			}
		},
	})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var peak atomic.Uint64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-wctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	runErr := make(chan error, 1)
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return err
		}
	}
	c0 := cpuTime()
	start := time.Now()
	go func() { runErr <- w.Run(wctx) }()
	wait := func(ch chan struct{}) error {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Minute):
			return errors.New("the worker did not settle every event in 10 minutes")
		}
	}
	if err := wait(backlogDone); err != nil {
		return err
	}
	rep.CPU = (cpuTime() - c0) / time.Duration(o.Events)
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	mu.Lock()
	// Both rates are timed from the first event settled to the last, so that
	// start-up (the worker's partition claims) is not counted.
	rep.Rate = float64(o.Events-1) / lastBacklog.Sub(firstSettle).Seconds()
	rep.Startup = firstSettle.Sub(start)
	mu.Unlock()
	if o.Paced > 0 {
		// Publish at half the drain rate: latency without a backlog.
		interval := time.Duration(float64(time.Second) / (rep.Rate / 2))
		pstart := time.Now()
		next := pstart
		for _, m := range paced {
			if _, err := js.PublishMsgAsync(m); err != nil {
				return err
			}
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
		if err := wait(pacedDone); err != nil {
			return err
		}
		rep.PacedRate = float64(o.Paced) / time.Since(pstart).Seconds()
		slices.Sort(latencies)
		rep.P50 = latencies[len(latencies)/2]
		rep.P99 = latencies[len(latencies)*99/100]
	}
	cancel()
	<-sampled
	if err := <-runErr; err != nil {
		return err
	}
	rep.PeakHeapMiB = float64(peak.Load()) / (1 << 20)
	return nil
}
