package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

const tenant = "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"

// emulator starts a seeded Graph emulator (strict auth) on 127.0.0.1.
func emulator(t testing.TB, opts graphfake.Options) (*graphfake.Server, string) {
	t.Helper()
	srv := graphfake.New(opts)
	if err := srv.SeedFS(fixtures.FS()); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

// client builds a client for the emulator with fast backoff; mod adjusts the
// configuration.
func client(t testing.TB, root string, mod func(*graph.Config), opts ...graph.Option) *graph.Client {
	t.Helper()
	cfg := graph.Config{
		Root:        root,
		Default:     &graph.Credential{Auth: graph.AuthNone},
		BackoffBase: 5 * time.Millisecond,
		BackoffMax:  50 * time.Millisecond,
		Timeout:     5 * time.Second,
		// Generous limits: tests of the limiter set their own.
		IncidentRate:       graph.RateLimit{PerMinute: 600000, Burst: 1000},
		SecurityActionRate: graph.RateLimit{PerMinute: 600000, Burst: 1000},
		Defender:           graph.Defender{URL: root, IndicatorRate: graph.RateLimit{PerMinute: 600000, Burst: 1000}},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := graph.New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seedMany adds n incidents 5000.. of the tenant, one second apart, created
// and last updated at base+i seconds.
func seedMany(t testing.TB, srv *graphfake.Server, n int, base time.Time) {
	t.Helper()
	var inc map[string]any
	if err := json.Unmarshal(fixtures.Read("bare-incident.json"), &inc); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		inc["id"] = fmt.Sprint(5000 + i)
		ts := base.Add(time.Duration(i) * time.Second).UTC().Format("2006-01-02T15:04:05.000Z")
		inc["createdDateTime"], inc["lastUpdateDateTime"] = ts, ts
		b, _ := json.Marshal(inc)
		if err := srv.Seed(b); err != nil {
			t.Fatal(err)
		}
	}
}

// gaps returns the times between consecutive requests.
func gaps(reqs []graphfake.Request) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(reqs); i++ {
		out = append(out, reqs[i].Time.Sub(reqs[i-1].Time))
	}
	return out
}
