package ui

import "sync"

// message is one server-sent event: its type and its JSON data.
type message struct {
	kind string
	data []byte
}

// subscriberBuffer is how many messages a slow browser may fall behind
// before its stream is ended (its EventSource reconnects and starts again
// from a snapshot).
const subscriberBuffer = 256

// hub hands every message to every open stream. It never blocks on a
// stream: one that cannot keep up is dropped (its channel closed).
type hub struct {
	mu     sync.Mutex
	subs   map[chan message]struct{}
	closed bool
}

func newHub() *hub { return &hub{subs: map[chan message]struct{}{}} }

// subscribe opens a stream. The channel is closed when the stream is dropped
// or the hub closes; a stream opened after close gets a closed channel.
func (h *hub) subscribe() chan message {
	ch := make(chan message, subscriberBuffer)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch
	}
	h.subs[ch] = struct{}{}
	return ch
}

// unsubscribe closes a stream; it may be called after the hub dropped it.
func (h *hub) unsubscribe(ch chan message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[ch]; ok {
		delete(h.subs, ch)
		close(ch)
	}
}

// watched reports whether any stream is open.
func (h *hub) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs) > 0
}

// publish sends m to every open stream.
func (h *hub) publish(m message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- m:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// close ends every stream and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}
