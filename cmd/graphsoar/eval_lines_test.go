package main

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadBatches checks the JSON Lines batcher: every non-blank line comes
// out once, in order, with its number and its bytes, whatever the input.
func FuzzReadBatches(f *testing.F) {
	f.Add([]byte("{}\n\n{\"a\":1}\r\n  \n{"))
	f.Add([]byte(""))
	f.Add([]byte(strings.Repeat("{}\n", 200)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var wantLines []string
		var wantNums []int
		for i, l := range bytes.SplitAfter(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				wantLines = append(wantLines, string(l))
				wantNums = append(wantNums, i+1)
			}
		}
		var gotLines []string
		var gotNums []int
		_, err := readBatches(bytes.NewReader(data), func() *lineBatch {
			b := &lineBatch{}
			b.reset()
			return b
		}, func(b *lineBatch) {
			for i := range b.ends {
				gotLines = append(gotLines, string(b.line(i)))
				gotNums = append(gotNums, b.nums[i])
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(gotLines, "\x00") != strings.Join(wantLines, "\x00") || len(gotNums) != len(wantNums) {
			t.Fatalf("lines %q, want %q", gotLines, wantLines)
		}
		for i := range gotNums {
			if gotNums[i] != wantNums[i] {
				t.Fatalf("line numbers %v, want %v", gotNums, wantNums)
			}
		}
	})
}
