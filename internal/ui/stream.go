package ui

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// heartbeat is how often an idle stream sends a comment, so that proxies
// keep it open and a browser that went away is noticed.
const heartbeat = 15 * time.Second

// stream serves /api/stream: server-sent events. It first sends what the
// page knows (every kept event as a "record", then each section), then
// every change as it happens: "record" (an event's view, to put in place of
// the one with its id), "deadLetters", "approvals", "rules" and "budgets"
// (a section, whole). It ends when the browser goes away, the server shuts
// down (the request's context), the page stops (Run returned), the browser
// falls too far behind, or a write to it does not complete within
// WriteTimeout (a browser that stopped reading). The connection is not
// reused after the stream (Connection: close on HTTP/1.1), so the write
// deadline it leaves on the connection concerns no other request.
func (p *Page) stream(w http.ResponseWriter, r *http.Request) {
	out := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: p.o.WriteTimeout}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "close")
	ch := p.hub.subscribe()
	defer p.hub.unsubscribe(ch)
	// The end of the response (its last chunk) is written after this
	// handler returns: bound it too.
	defer func() { _ = out.extend() }()
	if out.extend() != nil {
		return
	}
	w.WriteHeader(http.StatusOK)
	for _, b := range p.feed.snapshot() {
		if out.event(message{kind: "record", data: b}) != nil {
			return
		}
	}
	for _, m := range p.lastSections() {
		if out.event(m) != nil {
			return
		}
	}
	if out.flush() != nil {
		return
	}
	p.poke() // a fresh read of the sections for this browser
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			err = out.event(m)
		case <-beat.C:
			err = out.comment("ping")
		}
		if err == nil {
			err = out.flush()
		}
		if err != nil {
			return
		}
	}
}

// streamWriter writes server-sent events, each write bounded by a write
// deadline on the connection.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// extend moves the connection's write deadline to timeout from now. A
// ResponseWriter that cannot take deadlines (a test recorder, a wrapper
// without Unwrap) is written without one.
func (s *streamWriter) extend() error {
	err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// event writes one server-sent event; JSON data holds no newline.
func (s *streamWriter) event(m message) error {
	if err := s.extend(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", m.kind, m.data)
	return err
}

// comment writes a comment line, which the browser ignores.
func (s *streamWriter) comment(text string) error {
	if err := s.extend(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(s.w, ": %s\n\n", text)
	return err
}

// flush sends what was written to the browser.
func (s *streamWriter) flush() error {
	if err := s.extend(); err != nil {
		return err
	}
	return s.rc.Flush()
}
