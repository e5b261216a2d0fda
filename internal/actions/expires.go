package actions

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The bounds of an expires duration: an indicator that lasts less than a
// minute is a typo (720s for 720h), and one of more than ten years is one
// that nobody will remember to remove.
const (
	minExpiresAfter = time.Minute
	maxExpiresAfter = 10 * 365 * 24 * time.Hour
)

// expiresPattern is the JSON Schema pattern of an expires value: a Go
// duration, a date, an RFC 3339 time, or a template.
const expiresPattern = `^[+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$` +
	`|^[0-9]{4}-[0-9]{2}-[0-9]{2}$` +
	`|^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$` +
	`|\{\{.*\}\}`

// parseExpires reads an expires value: a Go duration (counted from when the
// indicator is made), an RFC 3339 time, or a date (midnight UTC). Exactly one
// of after and at is set when err is nil.
func parseExpires(s string) (after time.Duration, at time.Time, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return 0, t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return 0, t, nil
	}
	d, derr := time.ParseDuration(s)
	switch {
	case derr != nil:
		return 0, time.Time{}, fmt.Errorf("%q is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01%s", s, daysHint(s))
	case d <= 0:
		return 0, time.Time{}, fmt.Errorf("duration %q is not positive", s)
	case d < minExpiresAfter:
		return 0, time.Time{}, fmt.Errorf("duration %q is shorter than 1m", s)
	case d > maxExpiresAfter:
		return 0, time.Time{}, fmt.Errorf("duration %q is longer than 10 years (87600h)", s)
	}
	return d, time.Time{}, nil
}

// daysHint explains "30d": Go durations have no unit of days.
func daysHint(s string) string {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if !strings.HasSuffix(s, "d") || err != nil || n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (a duration has no d unit: write %dh for %d days)", 24*n, n)
}

// checkExpires is the Item check of block_file_hash's expires.
func checkExpires(s string) error {
	_, _, err := parseExpires(s)
	return err
}

// ExpirationTime resolves Expires: now plus a duration, or the fixed time the
// rule gave. It reports false when the effect has no (valid) expiry, which
// means the indicator never expires.
func (e Effect) ExpirationTime(now time.Time) (time.Time, bool) {
	if e.Expires == "" {
		return time.Time{}, false
	}
	after, at, err := parseExpires(e.Expires)
	switch {
	case err != nil:
		return time.Time{}, false
	case after > 0:
		return now.Add(after), true
	}
	return at, true
}
