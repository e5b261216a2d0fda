package ui

import (
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
// down (the request's context) or the page stops (Run returned).
func (p *Page) stream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	ch := p.hub.subscribe()
	defer p.hub.unsubscribe(ch)
	w.WriteHeader(http.StatusOK)
	for _, b := range p.feed.snapshot() {
		writeEvent(w, message{kind: "record", data: b})
	}
	for _, m := range p.lastSections() {
		writeEvent(w, m)
	}
	if err := rc.Flush(); err != nil {
		return
	}
	p.poke() // a fresh read of the sections for this browser
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			writeEvent(w, m)
		case <-beat.C:
			_, _ = fmt.Fprint(w, ": ping\n\n")
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// writeEvent writes one server-sent event; JSON data holds no newline.
func writeEvent(w http.ResponseWriter, m message) {
	_, _ = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.kind, m.data)
}
