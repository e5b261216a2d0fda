package graph_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

// The client's overhead per request: the same calls through graphsoar's
// client (msgraph-sdk-go adapter, middleware, retries, rate limiting, JSON
// decoding into the incident model) and through a bare net/http client, against
// the emulator with zero latency. The difference is the client's cost.

func BenchmarkClientGetIncident(b *testing.B) {
	_, root := emulator(b, graphfake.Options{})
	c := client(b, root, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.GetIncident(ctx, tenant, "4211"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRawGetIncident(b *testing.B) {
	_, root := emulator(b, graphfake.Options{Open: true})
	hc := &http.Client{}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := hc.Get(root + "/v1.0/security/incidents/4211?$expand=alerts")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkClientUpdateIncident(b *testing.B) {
	_, root := emulator(b, graphfake.Options{})
	c := client(b, root, nil)
	ctx := context.Background()
	statuses := []string{"active", "inProgress"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s := statuses[i%2]
		if _, _, err := c.UpdateIncident(ctx, tenant, "4212", patchOf(s)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientAddComment rotates over 1,000 incidents: Graph answers a
// comment with the incident's whole comment list, which would otherwise grow
// with b.N.
func BenchmarkClientAddComment(b *testing.B) {
	srv, root := emulator(b, graphfake.Options{})
	seedMany(b, srv, 1000, time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
	c := client(b, root, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := c.AddComment(ctx, tenant, strconv.Itoa(5000+i%1000), "benchmark"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientSubmitIndicator blocks a hash through Defender's indicators
// API, rotating over 1,000 hashes (a submit of an existing value updates it).
func BenchmarkClientSubmitIndicator(b *testing.B) {
	_, root := emulator(b, graphfake.Options{NoIndicatorRateLimits: true})
	c := client(b, root, nil)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		hash := fmt.Sprintf("%064x", i%1000)
		if _, _, err := c.BlockFileHash(ctx, tenant, graph.BlockRequest{Hash: hash, Rule: "bench", Reason: "benchmark"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientGetIncidentParallel measures concurrent calls (the worker's
// shape): 2 CPUs, 16 goroutines.
func BenchmarkClientGetIncidentParallel(b *testing.B) {
	_, root := emulator(b, graphfake.Options{})
	c := client(b, root, nil)
	ctx := context.Background()
	b.SetParallelism(8)
	b.ReportAllocs()
	var once sync.Once
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := c.GetIncident(ctx, tenant, "4211"); err != nil {
				once.Do(func() { b.Error(err) })
				return
			}
		}
	})
}

func patchOf(status string) actions.Patch { return actions.Patch{Status: &status} }
