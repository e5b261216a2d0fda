package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Message is one message to store in a stream.
type Message struct {
	Subject string
	// MsgID, when set, is the Nats-Msg-Id: JetStream stores one message per
	// id within the stream's duplicate window, so a publish retried after a
	// lost acknowledgement is stored once.
	MsgID string
	// Header, when set, is sent with the message (MsgID is set on top).
	Header nats.Header
	Data   []byte
}

// Publisher stores messages in streams and waits for JetStream to
// acknowledge every one.
type Publisher interface {
	PublishAll(ctx context.Context, msgs []Message) error
}

// JetStreamPublisher is a Publisher on a JetStream context.
type JetStreamPublisher struct{ JS jetstream.JetStream }

// PublishAll publishes the messages asynchronously and waits for every
// acknowledgement (until ctx ends); the error names the messages that were
// not stored.
func (p JetStreamPublisher) PublishAll(ctx context.Context, msgs []Message) error {
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var errs []error
	for _, m := range msgs {
		msg := nats.NewMsg(m.Subject)
		msg.Data = m.Data
		for k, v := range m.Header {
			msg.Header[k] = v
		}
		if m.MsgID != "" {
			msg.Header.Set(nats.MsgIdHdr, m.MsgID)
		}
		f, err := p.JS.PublishMsgAsync(msg)
		if err != nil {
			errs = append(errs, fmt.Errorf("publish to %s: %w", m.Subject, err))
			continue
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish to %s: %w", f.Msg().Subject, err))
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("publish: %w", ctx.Err()))...)
		}
	}
	return errors.Join(errs...)
}
