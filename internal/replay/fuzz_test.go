package replay_test

import (
	"bytes"
	"strings"
	"testing"

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
