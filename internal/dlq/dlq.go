// Package dlq reads and replays graphsoar's dead letters: the events the
// worker could not handle, stored on graphsoar.dlq.<tenant>.<incident> with
// their reason (stream GRAPHSOAR_DLQ).
//
// A replayed dead letter is published again to the subject its producer
// used (Graphsoar-Subject), with its original body and headers, a
// Graphsoar-Replay-Of header naming the dead letter and the message id
// replay:<stream>:<seq>; the worker handles it even though its version was
// handled before, once per dead letter.
package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/consume"
)

// Letter is one dead letter.
type Letter struct {
	Seq          uint64    `json:"seq"`
	DLQSubject   string    `json:"dlqSubject"`
	Subject      string    `json:"subject"` // where the producer published the event
	Tenant       string    `json:"tenant,omitempty"`
	Incident     string    `json:"incident,omitempty"`
	Event        string    `json:"event,omitempty"`
	Reason       string    `json:"reason"`
	Error        string    `json:"error,omitempty"`
	Deliveries   int       `json:"deliveries"`
	DeadLettered time.Time `json:"deadLettered"`
	Stream       string    `json:"stream,omitempty"`
	StreamSeq    uint64    `json:"streamSeq,omitempty"`
	data         []byte
	header       nats.Header
}

// Filter selects dead letters; empty fields select all.
type Filter struct {
	Reason   string
	Incident string
	Seqs     []uint64
}

func (f Filter) match(l Letter) bool {
	if f.Reason != "" && l.Reason != f.Reason {
		return false
	}
	if f.Incident != "" && l.Incident != f.Incident {
		return false
	}
	if len(f.Seqs) > 0 {
		for _, s := range f.Seqs {
			if s == l.Seq {
				return true
			}
		}
		return false
	}
	return true
}

// List returns the dead letters of stream that match f, oldest first: those
// stored when List is called.
func List(ctx context.Context, js jetstream.JetStream, stream string, f Filter) ([]Letter, error) {
	msgs, _, err := broker.Snapshot(ctx, js, stream, time.Time{})
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	var out []Letter
	for m, err := range msgs {
		if err != nil {
			return nil, fmt.Errorf("dead letters: %w", err)
		}
		if l := letterOf(m, m.Meta.Sequence.Stream); f.match(l) {
			out = append(out, l)
		}
	}
	return out, nil
}

// letterOf reads a dead letter's headers and body.
func letterOf(m jetstream.Msg, seq uint64) Letter {
	h := m.Headers()
	l := Letter{Seq: seq, DLQSubject: m.Subject(), Subject: h.Get(consume.HeaderSubject), Reason: h.Get(consume.HeaderReason),
		Error: h.Get(consume.HeaderError), Stream: h.Get(consume.HeaderStream), data: m.Data(), header: h}
	l.Deliveries, _ = strconv.Atoi(h.Get(consume.HeaderDeliveries))
	l.StreamSeq, _ = strconv.ParseUint(h.Get(consume.HeaderStreamSeq), 10, 64)
	l.DeadLettered, _ = time.Parse(time.RFC3339Nano, h.Get(consume.HeaderDeadLettered))
	if parts := strings.Split(m.Subject(), "."); len(parts) == 4 {
		l.Tenant, l.Incident = parts[2], parts[3]
	}
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(l.data, &ev) == nil {
		l.Event = ev.ID
	}
	return l
}

// Replayed is the outcome of one replay.
type Replayed struct {
	Letter Letter
	// Stored is the incident stream's sequence of the replayed event.
	Stored uint64
	Err    error
}

// Replay publishes each letter again to its producer's subject and, unless
// keep, deletes it from the dead-letter stream once JetStream stored the
// replay. A letter without a subject (an event that could not be read) is
// not replayed.
func Replay(ctx context.Context, js jetstream.JetStream, dlqStream string, letters []Letter, keep bool) []Replayed {
	out := make([]Replayed, 0, len(letters))
	for _, l := range letters {
		r := Replayed{Letter: l}
		if l.Subject == "" {
			r.Err = errors.New("the dead letter names no subject to replay to (an unreadable event: fix it and publish it yourself)")
			out = append(out, r)
			continue
		}
		m := nats.NewMsg(l.Subject)
		m.Data = l.data
		for k, v := range l.header {
			switch {
			case strings.HasPrefix(k, consume.HeaderOrigPrefix):
				orig := strings.TrimPrefix(k, consume.HeaderOrigPrefix)
				if strings.EqualFold(orig, nats.MsgIdHdr) || strings.HasPrefix(strings.ToLower(orig), "nats-expected") {
					continue // a replay is a new message, expected nothing
				}
				m.Header[orig] = v
			case strings.HasPrefix(k, "Graphsoar-"), strings.HasPrefix(strings.ToLower(k), "nats-"):
			default:
				m.Header[k] = v
			}
		}
		id := fmt.Sprintf("%s:%d", dlqStream, l.Seq)
		m.Header.Set(consume.HeaderReplayOf, id)
		m.Header.Set(nats.MsgIdHdr, "replay:"+id)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			r.Err = fmt.Errorf("publish to %s: %w", l.Subject, err)
			out = append(out, r)
			continue
		}
		r.Stored = ack.Sequence
		if !keep {
			s, err := js.Stream(ctx, dlqStream)
			if err == nil {
				err = s.DeleteMsg(ctx, l.Seq)
			}
			if err != nil {
				r.Err = fmt.Errorf("replayed, but not removed from %s: %w", dlqStream, err)
			}
		}
		out = append(out, r)
	}
	return out
}
