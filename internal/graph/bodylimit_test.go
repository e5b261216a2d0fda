package graph_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/graph"
)

// oversized is a JSON document of more than 32 MiB: an incident (or an
// indicator list) whose one string fills the body.
const oversized = 33 << 20

// hugeBody serves an oversized body on every request, with or without a
// Content-Length, and counts the requests.
func hugeBody(t *testing.T, contentLength bool, requests *atomic.Int32) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		head := `{"id":"4211","value":[],"displayName":"`
		tail := `"}`
		w.Header().Set("Content-Type", "application/json")
		if contentLength {
			w.Header().Set("Content-Length", strconv.Itoa(len(head)+oversized+len(tail)))
		}
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, head)
		chunk := strings.Repeat("a", 1<<20)
		for range oversized >> 20 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return // the client gave up: what the limit is for
			}
		}
		_, _ = io.WriteString(w, tail)
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestResponseBodyLimit: a Graph (SDK) or Defender response body over the
// limit fails the call as ErrInvalid, permanent, without being read whole
// and without a retry.
func TestResponseBodyLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		contentLength bool
		call          func(ctx context.Context, c *graph.Client) error
	}{
		{"graph with length", true, func(ctx context.Context, c *graph.Client) error {
			_, _, err := c.GetIncident(ctx, tenant, "4211")
			return err
		}},
		{"graph chunked", false, func(ctx context.Context, c *graph.Client) error {
			_, _, err := c.GetIncident(ctx, tenant, "4211")
			return err
		}},
		{"defender with length", true, func(ctx context.Context, c *graph.Client) error {
			_, err := c.FindIndicator(ctx, tenant, strings.Repeat("ab", 32))
			return err
		}},
		{"defender chunked", false, func(ctx context.Context, c *graph.Client) error {
			_, err := c.FindIndicator(ctx, tenant, strings.Repeat("ab", 32))
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int32
			root := hugeBody(t, tt.contentLength, &requests)
			c := client(t, root, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := tt.call(ctx, c)
			var ge *graph.Error
			switch {
			case err == nil:
				t.Fatal("an oversized body was accepted")
			case !errors.Is(err, graph.ErrInvalid) || !errors.As(err, &ge) || ge.Retryable():
				t.Errorf("error %v (%T): want a permanent ErrInvalid", err, err)
			case !strings.Contains(err.Error(), "response body over the limit of 32 MiB"):
				t.Errorf("error %q does not say the body is over the limit", err)
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (no retry of a permanent failure)", n)
			}
		})
	}
}
