// Package ctxtime holds the one context-aware wait that retry and rate-limit
// loops share.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends; it returns ctx's error when ctx ended
// first and nil otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
