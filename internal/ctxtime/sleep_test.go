package ctxtime_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/ctxtime"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	t.Run("elapses", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		if err := ctxtime.Sleep(context.Background(), 10*time.Millisecond); err != nil {
			t.Fatalf("Sleep = %v, want nil", err)
		}
		if time.Since(start) < 10*time.Millisecond {
			t.Fatal("Sleep returned before its duration")
		}
	})
	t.Run("context ends first", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := ctxtime.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep = %v, want context.Canceled", err)
		}
	})
}
