package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// Batching of JSON Lines: a batch is sent on when it holds batchLines lines
// or batchBytes bytes, or when no more input is buffered (so that a slow
// producer sees each plan as soon as its line is in).
const (
	batchLines = 64
	batchBytes = 1 << 20
)

// lineBatch is a run of consecutive JSON Lines and, once evaluated, their
// output. Its buffers are reused from batch to batch.
type lineBatch struct {
	arena []byte // the lines' bytes
	ends  []int  // end of each line in arena
	nums  []int  // line numbers
	out   bytes.Buffer
	errs  []string // messages of the lines that failed, in order
	done  chan struct{}
}

func (b *lineBatch) reset() {
	b.arena, b.ends, b.nums, b.errs = b.arena[:0], b.ends[:0], b.nums[:0], b.errs[:0]
	b.out.Reset()
	b.done = make(chan struct{})
}

func (b *lineBatch) line(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.arena[start:b.ends[i]:b.ends[i]]
}

// lines evaluates JSON Lines: one event a line, one plan a line, in input
// order. Lines are decoded and evaluated on GOMAXPROCS goroutines in batches;
// one goroutine writes the batches in order through a buffer that it flushes
// whenever it has nothing more to write.
func (e *evaluator) lines(name string, r io.Reader) error {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *lineBatch, workers)
	order := make(chan *lineBatch, 2*workers)
	pool := sync.Pool{New: func() any { return &lineBatch{} }}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				e.evalBatch(name, b)
				close(b.done)
			}
		})
	}
	events, failed := 0, 0
	written := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(e.out, 64<<10)
		var werr error
		for b := range order {
			<-b.done
			events += len(b.ends)
			failed += len(b.errs)
			if werr == nil {
				_, werr = w.Write(b.out.Bytes())
			}
			for _, msg := range b.errs {
				fmt.Fprintln(e.errOut, msg)
			}
			if len(order) == 0 && werr == nil {
				werr = w.Flush()
			}
			pool.Put(b)
		}
		if werr == nil {
			werr = w.Flush()
		}
		written <- werr
	}()
	lastLine, rerr := readBatches(r, func() *lineBatch {
		b := pool.Get().(*lineBatch)
		b.reset()
		return b
	}, func(b *lineBatch) {
		work <- b
		order <- b
	})
	close(work)
	close(order)
	wg.Wait()
	werr := <-written
	switch {
	case rerr != nil:
		return fmt.Errorf("%s:%d: %w", name, lastLine+1, rerr)
	case werr != nil:
		return werr
	case failed > 0:
		return &exitError{code: 1, err: fmt.Errorf("%d of %d events could not be evaluated", failed, events)}
	}
	return nil
}

// evalBatch decodes, evaluates and renders each line of a batch.
func (e *evaluator) evalBatch(name string, b *lineBatch) {
	for i := range b.ends {
		ev, err := incident.Decode(b.line(i))
		if err == nil {
			err = e.render(&b.out, ev, false)
		}
		if err != nil {
			b.errs = append(b.errs, fmt.Sprintf("%s:%d: %v", name, b.nums[i], err))
		}
	}
}

// errLineTooLong is returned for a line longer than maxEventLine.
var errLineTooLong = errors.New("line too long")

// readBatches reads non-blank lines into batches from get and hands each full
// batch to send. It returns the number of the last line read, and the first
// read error (io.EOF is the end, not an error).
func readBatches(r io.Reader, get func() *lineBatch, send func(*lineBatch)) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	line := 0
	b := get()
	flush := func() {
		if len(b.ends) > 0 {
			send(b)
			b = get()
		}
	}
	for {
		start := len(b.arena)
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			b.arena = append(b.arena, chunk...)
			if len(b.arena)-start > maxEventLine {
				return line + 1, errLineTooLong
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if len(b.arena) > start {
			line++
			if len(bytes.TrimSpace(b.arena[start:])) == 0 {
				b.arena = b.arena[:start]
			} else {
				b.ends = append(b.ends, len(b.arena))
				b.nums = append(b.nums, line)
			}
		}
		if err != nil {
			flush()
			if errors.Is(err, io.EOF) {
				return line, nil
			}
			return line, err
		}
		if len(b.ends) >= batchLines || len(b.arena) >= batchBytes || br.Buffered() == 0 {
			flush()
		}
	}
}
