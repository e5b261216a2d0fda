package replay

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
)

// MaxLine bounds one JSON Lines event (a large incident with its alerts).
const MaxLine = 16 << 20

// Lines reads JSON Lines: one event a line, blank lines skipped. Each Raw's
// Ref is "name:LINE" and its Done the bytes read so far; size, when known
// (a file's), is every Raw's Total. A line longer than MaxLine, or a read
// error, ends the sequence with an error naming the line.
func Lines(r io.Reader, name string, size int64) iter.Seq2[Raw, error] {
	return func(yield func(Raw, error) bool) {
		br := bufio.NewReaderSize(r, 64<<10)
		var done int64
		for line := 1; ; line++ {
			b, err := readLine(br)
			done += int64(len(b))
			if len(bytes.TrimSpace(b)) > 0 {
				if !yield(Raw{Data: b, Ref: fmt.Sprintf("%s:%d", name, line), Done: done, Total: size}, nil) {
					return
				}
			}
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(Raw{}, fmt.Errorf("%s:%d: %w", name, line, err))
				return
			}
		}
	}
}

// errLineTooLong is the error of a line longer than MaxLine.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLine)

// readLine reads one line with its newline, in a slice of its own.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLine {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}
