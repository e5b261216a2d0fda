package broker

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stored is a message read from a stream with its metadata.
type Stored struct {
	jetstream.Msg
	Meta *jetstream.MsgMetadata
}

// Snapshot reads a stream's messages stored from since (zero: the first) up
// to its last message when Snapshot is called, oldest first, so a read ends
// even while producers keep publishing. It returns them with their count.
// Nothing is acknowledged or stored: the ordered consumer is ephemeral. The
// sequence stops at the first error, which it yields; ctx's end is one.
func Snapshot(ctx context.Context, js jetstream.JetStream, stream string, since time.Time) (iter.Seq2[Stored, error], int64, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	if info.State.Msgs == 0 {
		return func(func(Stored, error) bool) {}, 0, nil
	}
	last := info.State.LastSeq
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("stream %s: ordered consumer: %w", stream, err)
	}
	total := int64(ci.NumPending)
	return func(yield func(Stored, error) bool) {
		if total == 0 {
			return
		}
		msgs, err := cons.Messages()
		if err != nil {
			yield(Stored{}, fmt.Errorf("stream %s: %w", stream, err))
			return
		}
		defer msgs.Stop()
		stop := context.AfterFunc(ctx, msgs.Stop)
		defer stop()
		for {
			msg, err := msgs.Next()
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(Stored{}, fmt.Errorf("stream %s: %w", stream, err))
				return
			}
			meta, err := msg.Metadata()
			if err != nil {
				yield(Stored{}, fmt.Errorf("stream %s: %w", stream, err))
				return
			}
			if !yield(Stored{Msg: msg, Meta: meta}, nil) {
				return
			}
			if meta.Sequence.Stream >= last || meta.NumPending == 0 {
				return
			}
		}
	}, total, nil
}
