package consume

import (
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
)

// Delivery is one delivered event message.
type Delivery struct {
	Msg  jetstream.Msg
	Meta *jetstream.MsgMetadata
	// Partition consumed it; Epoch is the revision of the lease under which
	// it was delivered (it grows with every new owner of the partition).
	Partition string
	Epoch     uint64
	// Tenant and Incident as the subject names them ("" when it does not);
	// Key orders deliveries: one key, one at a time, in stream order.
	Tenant, Incident, Key string
	// Subject is the subject the producer published to
	// (security.incidents.<tenant>.<incident>), not the partition subject
	// the stream made of it.
	Subject string

	// Set by the handler once it has read the event: they name the dead
	// letter's subject (else graphsoar.dlq.unknown) and the settlement.
	DLQTenant, DLQIncident, EventID string
}

// Seq is the delivery's stream sequence.
func (d *Delivery) Seq() uint64 { return d.Meta.Sequence.Stream }

// Label records what the handler read of the event.
func (d *Delivery) Label(tenant, incident, eventID string) {
	d.DLQTenant, d.DLQIncident, d.EventID = tenant, incident, eventID
}

// newDelivery reads the metadata and the ordering key of a message: the
// tenant and incident from a partitioned subject (PREFIX.<p>.<tenant>.<incident>)
// or a contract subject (SUBJECT-PREFIX.<tenant>.<incident>).
func newDelivery(msg jetstream.Msg, t broker.Topology, partition string, epoch uint64) (*Delivery, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return nil, err
	}
	subj := msg.Subject()
	d := &Delivery{Msg: msg, Meta: meta, Partition: partition, Epoch: epoch, Key: subj, Subject: subj}
	d.Tenant, d.Incident = subjectTokens(t, subj)
	if d.Tenant != "" {
		d.Key = d.Tenant + "/" + d.Incident
		d.Subject = strings.TrimSuffix(t.Subject, ">") + d.Tenant + "." + d.Incident
	}
	return d, nil
}

// subjectTokens reads the tenant and incident of a partition or contract
// subject ("", "" for any other).
func subjectTokens(t broker.Topology, subj string) (string, string) {
	if rest, ok := strings.CutPrefix(subj, t.PartitionPrefix+"."); ok {
		if _, rest, ok = strings.Cut(rest, "."); ok {
			return twoTokens(rest)
		}
		return "", ""
	}
	if rest, ok := strings.CutPrefix(subj, strings.TrimSuffix(t.Subject, ">")); ok {
		return twoTokens(rest)
	}
	return "", ""
}

// twoTokens splits "a.b" into a and b; anything else gives "", "".
func twoTokens(s string) (string, string) {
	a, b, ok := strings.Cut(s, ".")
	if !ok || a == "" || b == "" || strings.Contains(b, ".") {
		return "", ""
	}
	return a, b
}
