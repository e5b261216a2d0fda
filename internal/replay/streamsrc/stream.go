// Package streamsrc reads recorded incident events for a replay from a
// JetStream stream (INCIDENTS) with an ordered consumer, over a time range.
// It reads payloads only: the stream may store events under partitioned
// subjects (graphsoar.incidents.<p>.<tenant>.<incident>).
package streamsrc

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/replay"
)

// Read returns the messages of a stream stored from since (zero: the first)
// up to until (zero: no bound) and up to the stream's last message when Read
// is called: a replay ends even while producers keep publishing. Each Raw's
// Ref is "STREAM#SEQ"; Done and Total count messages. Nothing is
// acknowledged or stored: an ordered consumer is ephemeral. Decisions about
// held actions (messages with approval.Header) are not events: left out.
func Read(ctx context.Context, js jetstream.JetStream, stream string, since, until time.Time) (iter.Seq2[replay.Raw, error], error) {
	msgs, total, err := broker.Snapshot(ctx, js, stream, since)
	if err != nil {
		return nil, err
	}
	return func(yield func(replay.Raw, error) bool) {
		var done int64
		for msg, err := range msgs {
			if err != nil {
				yield(replay.Raw{}, err)
				return
			}
			if !until.IsZero() && msg.Meta.Timestamp.After(until) {
				return
			}
			done++
			if msg.Headers().Get(approval.Header) != "" {
				continue // a decision about a held action, not an incident event
			}
			raw := replay.Raw{Data: msg.Data(), Ref: fmt.Sprintf("%s#%d", stream, msg.Meta.Sequence.Stream), Done: done, Total: total}
			if !yield(raw, nil) {
				return
			}
		}
	}, nil
}

// ParseTime reads a --since or --until value: an RFC 3339 time
// (2026-11-20T08:00:00Z), a date (2026-11-20, midnight UTC), or a duration
// before now (72h, 30m, 1h30m). The empty string is the zero time.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration before now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-11-20T08:00:00Z), a date (2026-11-20) or a duration before now (72h)", s)
}
