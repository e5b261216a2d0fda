package graph

import (
	"testing"
	"time"
)

// allowAt takes a call at now if every bucket has one.
func (l *limiter) allowAt(now time.Time) bool {
	d, cancel := l.reserveAt(now)
	if d > 0 {
		cancel()
		return false
	}
	return true
}

// busiest is the most calls of sent within any window.
func busiest(sent []time.Time, window time.Duration) int {
	most := 0
	for i := range sent {
		n := 0
		for j := i; j < len(sent) && sent[j].Sub(sent[i]) < window; j++ {
			n++
		}
		most = max(most, n)
	}
	return most
}

// TestLimiterStaysUnderItsBudgets: whatever the burst, no minute sees more
// calls than PerMinute and no hour more than PerHour, even the first ones,
// when the buckets start full; and the budget is not wasted.
func TestLimiterStaysUnderItsBudgets(t *testing.T) {
	t.Parallel()
	for _, r := range []RateLimit{{PerMinute: 150, Burst: 10}, {PerMinute: 600, Burst: 20}, {PerMinute: 120, Burst: 1},
		{PerMinute: 5, Burst: 50}, {PerMinute: 1, Burst: 1}, {PerMinute: 100, PerHour: 1500, Burst: 10}} {
		l := newLimiter(r)
		start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
		span, step := 3*time.Minute, 10*time.Millisecond
		if r.PerHour > 0 {
			span, step = 150*time.Minute, 100*time.Millisecond
		}
		var sent []time.Time
		for now := start; now.Before(start.Add(span)); now = now.Add(step) {
			for l.allowAt(now) {
				sent = append(sent, now)
			}
		}
		if most := busiest(sent, time.Minute); most > r.PerMinute {
			t.Errorf("%+v: %d calls in one minute", r, most)
		} else if r.PerHour == 0 && most < r.PerMinute*9/10 {
			t.Errorf("%+v: only %d calls in the busiest minute: the limiter wastes Graph's budget", r, most)
		}
		if r.PerHour > 0 {
			if most := busiest(sent, time.Hour); most > r.PerHour || most < r.PerHour*9/10 {
				t.Errorf("%+v: %d calls in the busiest hour, want at most %d and not much less", r, most, r.PerHour)
			}
		}
	}
}

// TestDrainedLimiterKeepsTheWindowWithItsPredecessor: a replica that takes a
// tenant over drains its budget, so its calls and a predecessor's that used
// the whole burst just before stay within PerMinute in any minute.
func TestDrainedLimiterKeepsTheWindowWithItsPredecessor(t *testing.T) {
	t.Parallel()
	r := RateLimit{PerMinute: 100, Burst: 10}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var sent []time.Time
	old := newLimiter(r)
	handover := start.Add(90 * time.Second)
	for now := start; now.Before(handover); now = now.Add(10 * time.Millisecond) {
		for old.allowAt(now) {
			sent = append(sent, now)
		}
	}
	next := newLimiter(r)
	next.drainAt(handover)
	for now := handover; now.Before(handover.Add(2 * time.Minute)); now = now.Add(10 * time.Millisecond) {
		for next.allowAt(now) {
			sent = append(sent, now)
		}
	}
	if most := busiest(sent, time.Minute); most > r.PerMinute {
		t.Errorf("%d calls in one minute across the handover, want at most %d", most, r.PerMinute)
	}
	undrained := newLimiter(r)
	if !undrained.allowAt(handover) {
		t.Fatal("a fresh limiter should allow a call at once")
	}
	drained := newLimiter(r)
	drained.drainAt(handover)
	if drained.allowAt(handover) {
		t.Error("a drained limiter allowed a call at once")
	}
}
