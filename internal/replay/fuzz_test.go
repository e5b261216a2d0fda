package replay_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/replay"
)

// FuzzLines checks that the JSON Lines reader never panics, yields every
// non-blank line once with its number, and keeps each line's bytes.
func FuzzLines(f *testing.F) {
	f.Add([]byte("{}\n\n{\"a\":1}\r\n  \n{"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.SplitAfter(data, []byte("\n"))
		var want []string
		for _, l := range lines {
			if len(bytes.TrimSpace(l)) > 0 {
				want = append(want, string(l))
			}
		}
		var got []string
		for raw, err := range replay.Lines(bytes.NewReader(data), "f", int64(len(data))) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(raw.Data))
			if raw.Done > int64(len(data)) || raw.Total != int64(len(data)) {
				t.Fatalf("progress %d of %d", raw.Done, raw.Total)
			}
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("lines %q, want %q", got, want)
		}
	})
}

// FuzzParseTime checks that ParseTime never panics and that what it accepts
// is not after now when given as a duration.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"", "72h", "2026-11-20", "2026-11-20T08:00:00Z", "-1h", "1h30m"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := replay.ParseTime(s, now)
		if err != nil {
			return
		}
		if _, derr := time.ParseDuration(strings.TrimSpace(s)); derr == nil && got.After(now) {
			t.Fatalf("%q is after now: %v", s, got)
		}
	})
}
