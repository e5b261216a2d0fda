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

	"github.com/graphsoar/graphsoar/internal/replay"
)

// Read returns the messages of a stream stored from since (zero: the first)
// up to until (zero: no bound) and up to the stream's last message when Read
// is called: a replay ends even while producers keep publishing. Each Raw's
// Ref is "STREAM#SEQ"; Done and Total count messages. Nothing is
// acknowledged or stored: an ordered consumer is ephemeral.
func Read(ctx context.Context, js jetstream.JetStream, stream string, since, until time.Time) (iter.Seq2[replay.Raw, error], error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return func(func(replay.Raw, error) bool) {}, nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	total := int64(ci.NumPending)
	return func(yield func(replay.Raw, error) bool) {
		if total == 0 {
			return
		}
		msgs, err := cons.Messages()
		if err != nil {
			yield(replay.Raw{}, fmt.Errorf("stream %s: %w", stream, err))
			return
		}
		defer msgs.Stop()
		stop := context.AfterFunc(ctx, msgs.Stop)
		defer stop()
		var done int64
		for {
			msg, err := msgs.Next()
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(replay.Raw{}, fmt.Errorf("stream %s: %w", stream, err))
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				yield(replay.Raw{}, fmt.Errorf("stream %s: %w", stream, err))
				return
			}
			if !until.IsZero() && meta.Timestamp.After(until) {
				return
			}
			done++
			raw := replay.Raw{Data: msg.Data(), Ref: fmt.Sprintf("%s#%d", stream, meta.Sequence.Stream), Done: done, Total: total}
			if !yield(raw, nil) {
				return
			}
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
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
