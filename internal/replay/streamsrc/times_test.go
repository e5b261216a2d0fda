package streamsrc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/replay/streamsrc"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-11-20T08:00:00Z", want: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)},
		{in: "2026-11-20", want: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{in: "72h", want: now.Add(-72 * time.Hour)},
		{in: "-1h", bad: true},
		{in: "yesterday", bad: true},
	}
	for _, tt := range tests {
		got, err := streamsrc.ParseTime(tt.in, now)
		if (err != nil) != tt.bad || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, bad %v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

// FuzzParseTime checks that ParseTime never panics and that what it accepts
// is not after now when given as a duration.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "72h", "2026-11-20", "2026-11-20T08:00:00Z", "-1h", "1h30m"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := streamsrc.ParseTime(s, now)
		if err != nil {
			return
		}
		if _, derr := time.ParseDuration(strings.TrimSpace(s)); derr == nil && got.After(now) {
			t.Fatalf("%q is after now: %v", s, got)
		}
	})
}
