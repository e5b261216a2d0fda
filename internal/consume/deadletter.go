package consume

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/broker"
)

// Dead-letter headers. A dead letter holds the original body; the
// producer's own headers are kept as they were, except the ones JetStream
// acts on (Nats-*), kept as Graphsoar-Orig-<name> so that JetStream never
// refuses the dead letter for them.
const (
	HeaderReason       = "Graphsoar-Reason"
	HeaderError        = "Graphsoar-Error"
	HeaderDeliveries   = "Graphsoar-Deliveries"
	HeaderStream       = "Graphsoar-Stream"
	HeaderStreamSeq    = "Graphsoar-Stream-Seq"
	HeaderSubject      = "Graphsoar-Subject" // where the producer published it
	HeaderDeadLettered = "Graphsoar-Dead-Lettered"
	HeaderOrigPrefix   = "Graphsoar-Orig-"
	// HeaderReplayOf marks an event republished from a dead letter
	// (<dlq stream>:<sequence>): the worker handles it although its version
	// was handled before, once per dead letter.
	HeaderReplayOf = "Graphsoar-Replay-Of"
)

// DeadLetterSubject is graphsoar.dlq.<tenant>.<incident>, or
// graphsoar.dlq.unknown when the event does not say.
func DeadLetterSubject(tenant, incidentID string) string {
	if tenant == "" || incidentID == "" {
		return "graphsoar.dlq.unknown"
	}
	return "graphsoar.dlq." + broker.SubjectToken(tenant) + "." + broker.SubjectToken(incidentID)
}

// deadLetter builds the dead letter of a delivery.
func deadLetter(d *Delivery, r Result, now time.Time) *nats.Msg {
	m := nats.NewMsg(DeadLetterSubject(d.DLQTenant, d.DLQIncident))
	m.Data = d.Msg.Data()
	for k, v := range d.Msg.Headers() {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			k = HeaderOrigPrefix + k
		}
		m.Header[k] = append([]string(nil), v...)
	}
	m.Header.Set(HeaderReason, r.Reason)
	m.Header.Set(HeaderError, truncate(errString(r.Err), 4000))
	m.Header.Set(HeaderDeliveries, strconv.FormatUint(d.Meta.NumDelivered, 10))
	m.Header.Set(HeaderStream, d.Meta.Stream)
	m.Header.Set(HeaderStreamSeq, strconv.FormatUint(d.Seq(), 10))
	m.Header.Set(HeaderSubject, d.Subject)
	m.Header.Set(HeaderDeadLettered, now.UTC().Format(time.RFC3339Nano))
	// A redelivered event dead-lettered twice is stored once.
	m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("dlq:%s:%d", d.Meta.Stream, d.Seq()))
	return m
}

// publishDeadLetter stores the dead letter and waits for JetStream's
// acknowledgement.
func (c *Consumer) publishDeadLetter(ctx context.Context, d *Delivery, r Result) error {
	_, err := c.js.PublishMsg(ctx, deadLetter(d, r, c.now()))
	return err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
