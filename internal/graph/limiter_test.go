package graph

import (
	"testing"
	"time"
)

// TestLimiterStaysUnderPerMinute: whatever the burst, no minute sees more
// calls than PerMinute, even the first one, when the bucket starts full.
func TestLimiterStaysUnderPerMinute(t *testing.T) {
	t.Parallel()
	for _, r := range []RateLimit{{150, 10}, {600, 20}, {120, 1}, {5, 50}, {1, 1}} {
		l := newLimiter(r)
		start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		var sent []time.Time
		for now := start; now.Before(start.Add(3 * time.Minute)); now = now.Add(10 * time.Millisecond) {
			for l.l.AllowN(now, 1) {
				sent = append(sent, now)
			}
		}
		most := 0
		for i := range sent {
			n := 0
			for j := i; j < len(sent) && sent[j].Sub(sent[i]) < time.Minute; j++ {
				n++
			}
			most = max(most, n)
		}
		if most > r.PerMinute {
			t.Errorf("%+v: %d calls in one minute", r, most)
		}
		if most < r.PerMinute*9/10 {
			t.Errorf("%+v: only %d calls in the busiest minute: the limiter wastes Graph's budget", r, most)
		}
	}
}
