package replay

import (
	"fmt"
	"strings"
	"time"
)

// ParseTime reads a --since or --until value: an RFC 3339 time
// (2026-11-20T08:00:00Z), a date (2026-11-20, midnight UTC), or a duration
// before now (72h, 30m, 1h30m). The empty string is the zero time.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration before now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-11-20T08:00:00Z), a date (2026-11-20) or a duration before now (72h)", s)
}
