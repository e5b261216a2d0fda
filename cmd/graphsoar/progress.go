package main

import (
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"time"

	"github.com/graphsoar/graphsoar/internal/replay"
)

// progress draws a progress bar on a terminal; on anything else (a pipe, a
// file, a test's buffer) it draws nothing.
type progress struct {
	w      io.Writer // nil: not a terminal
	start  time.Time
	drawn  time.Time
	events int
}

// redrawEvery bounds how often the bar is drawn.
const redrawEvery = 100 * time.Millisecond

func newProgress(w io.Writer) *progress {
	p := &progress{start: time.Now()}
	if isTerminal(w) {
		p.w = w
	}
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// track passes the events through, drawing the bar as they go.
func (p *progress) track(events iter.Seq2[replay.Raw, error]) iter.Seq2[replay.Raw, error] {
	if p.w == nil {
		return events
	}
	return func(yield func(replay.Raw, error) bool) {
		for raw, err := range events {
			if err == nil {
				p.events++
				if now := time.Now(); now.Sub(p.drawn) >= redrawEvery {
					p.drawn = now
					p.draw(raw.Done, raw.Total)
				}
			}
			if !yield(raw, err) {
				return
			}
		}
	}
}

func (p *progress) draw(done, total int64) {
	rate := float64(p.events) / max(time.Since(p.start).Seconds(), 1e-3)
	line := fmt.Sprintf("%d events, %.0f/s", p.events, rate)
	if total > 0 {
		frac := min(float64(done)/float64(total), 1)
		const width = 30
		n := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%%  %s", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100, line)
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
}

// finish clears the bar.
func (p *progress) finish() {
	if p.w != nil {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
