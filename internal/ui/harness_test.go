package ui_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/natstest"
	"github.com/graphsoar/graphsoar/internal/rules"
	"github.com/graphsoar/graphsoar/internal/secret"
	"github.com/graphsoar/graphsoar/internal/ui"
	"github.com/graphsoar/graphsoar/internal/worker"
	starter "github.com/graphsoar/graphsoar/rules"
)

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

// env is one test's world: an in-process NATS server with graphsoar's
// streams, a page on it with a fake approval store, and the page served
// over HTTP.
type env struct {
	t       *testing.T
	js      jetstream.JetStream
	reads   *countingJS // the page's JetStream, which counts its reads
	topo    broker.Topology
	store   *fakeStore
	budgets *countingBudgets
	bucket  jetstream.KeyValue // the approvals bucket, with envOptions.approvalsBucket
	page    *ui.Page
	url     string // the page's root, http://127.0.0.1:PORT
	logs    *syncBuffer
	stop    func() // stops Run and waits for it
}

type envOptions struct {
	token string
	// noRun leaves the page without Run (a test of the handler alone).
	noRun bool
	// approvalsBucket makes the approvals bucket and names it to the page.
	approvalsBucket bool
	// fullRefresh and writeTimeout are the page's (0: its defaults).
	fullRefresh  time.Duration
	writeTimeout time.Duration
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	srv := natstest.Start(t)
	_, js := srv.Connect()
	topo := broker.DefaultTopology()
	topo.Partitions = 1 // the replayed event keeps its subject
	ctx := context.Background()
	if err := broker.EnsureStream(ctx, js, topo, true); err != nil {
		t.Fatal(err)
	}
	if err := broker.EnsureSideStreams(ctx, js, topo); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.LoadFS(starter.FS(), ".", "rules", actions.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, js: js, reads: &countingJS{JetStream: js, reads: map[string]int{}}, topo: topo, store: &fakeStore{},
		budgets: &countingBudgets{}, logs: &syncBuffer{}}
	po := ui.Options{JS: e.reads, AuditStream: topo.AuditStream, DLQStream: topo.DLQStream,
		Rules: rules.Static{RS: rs}, Approvals: e.store, Budgets: e.budgets, Token: secret.Secret(o.token),
		Log:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Refresh: 50 * time.Millisecond, FullRefresh: o.fullRefresh, WriteTimeout: o.writeTimeout}
	if o.approvalsBucket {
		if e.bucket, err = broker.EnsureApprovalsBucket(ctx, js, topo); err != nil {
			t.Fatal(err)
		}
		po.ApprovalsBucket = topo.ApprovalsBucket
	}
	if e.page, err = ui.New(po); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e.page.Handler())
	t.Cleanup(hs.Close)
	e.url = hs.URL
	e.stop = func() {}
	if !o.noRun {
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.page.Run(rctx) }()
		var once sync.Once
		e.stop = func() {
			once.Do(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})
		}
		t.Cleanup(e.stop)
	}
	return e
}

// audit stores an audit record as the worker does.
func (e *env) audit(a worker.AuditEvent) {
	e.t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), worker.AuditSubject(a.Tenant, a.Incident), b); err != nil {
		e.t.Fatal(err)
	}
}

// do sends a request to the page and returns the status and body.
func (e *env) do(method, path string, body string, header map[string]string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sse reads server-sent events from a response body.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

type sseEvent struct {
	kind string
	data string
}

// openStream opens /api/stream; it is closed when the test ends.
func (e *env) openStream(header map[string]string) *sse {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url+"/api/stream", nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next event; io.EOF when the stream ended.
func (s *sse) next() (sseEvent, error) {
	var ev sseEvent
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.kind != "":
			return ev, nil
		case strings.HasPrefix(line, "event: "):
			ev.kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// waitFor reads events until one satisfies match, for at most d (the
// stream is closed after d, which ends the read).
func (s *sse) waitFor(t *testing.T, d time.Duration, what string, match func(sseEvent) bool) sseEvent {
	t.Helper()
	timer := time.AfterFunc(d, func() { s.resp.Body.Close() })
	defer timer.Stop()
	for {
		ev, err := s.next()
		if err != nil {
			t.Fatalf("stream ended before %s: %v", what, err)
		}
		if match(ev) {
			return ev
		}
	}
}

// fakeStore is an approval store in memory that records the decisions.
type fakeStore struct {
	mu        sync.Mutex
	records   []approval.Record
	decisions []string // "approve id by"
	lists     int      // calls of List
	fail      error
}

func (s *fakeStore) List(context.Context) ([]approval.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lists++
	return append([]approval.Record(nil), s.records...), s.fail
}

func (s *fakeStore) set(recs ...approval.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = recs
}

func (s *fakeStore) listed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lists
}

func (s *fakeStore) decide(verb, id, by string, st approval.Status) (approval.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decisions = append(s.decisions, verb+" "+id+" "+by)
	if s.fail != nil {
		return approval.Record{}, s.fail
	}
	for i, r := range s.records {
		if r.ID == id {
			if r.Status != approval.Pending {
				return r, fmt.Errorf("approval %s: %w: %s", id, approval.ErrDecided, r.Status)
			}
			r.Status, r.DecidedBy, r.DecidedAt = st, by, time.Now()
			s.records[i] = r
			return r, nil
		}
	}
	return approval.Record{}, fmt.Errorf("approval %s: %w", id, approval.ErrNotFound)
}

func (s *fakeStore) Approve(_ context.Context, id, by string) (approval.Record, error) {
	return s.decide("approve", id, by, approval.Approved)
}

func (s *fakeStore) Reject(_ context.Context, id, by string) (approval.Record, error) {
	return s.decide("reject", id, by, approval.Rejected)
}

func (s *fakeStore) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.decisions...)
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// countingJS is a JetStream that counts the ordered consumers made on each
// stream: the reads of the whole stream.
type countingJS struct {
	jetstream.JetStream
	mu    sync.Mutex
	reads map[string]int
}

func (c *countingJS) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	s, err := c.JetStream.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return countingStream{Stream: s, c: c, name: name}, nil
}

// of returns how often the stream was read.
func (c *countingJS) of(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads[stream]
}

type countingStream struct {
	jetstream.Stream
	c    *countingJS
	name string
}

func (s countingStream) OrderedConsumer(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, error) {
	s.c.mu.Lock()
	s.c.reads[s.name]++
	s.c.mu.Unlock()
	return s.Stream.OrderedConsumer(ctx, cfg)
}

// countingBudgets reports no budget and counts how often it was asked: the
// page's refreshes.
type countingBudgets struct{ calls atomic.Int64 }

func (b *countingBudgets) BudgetUse() []graph.BudgetUse {
	b.calls.Add(1)
	return nil
}

// waitUntil polls cond until it holds, for at most d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refreshes waits until the page refreshed n more times.
func (e *env) refreshes(n int64) {
	e.t.Helper()
	from := e.budgets.calls.Load()
	waitUntil(e.t, 10*time.Second, fmt.Sprintf("%d refreshes", n), func() bool { return e.budgets.calls.Load() >= from+n })
}
