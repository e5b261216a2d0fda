// Package undo reverses what one rule did, from the audit trail: the
// properties its PATCHes changed go back where Graph still shows its value,
// the tags it added are removed, the indicators it created are deleted (legacy
// security actions cancelled), and one correction comment per incident says
// so, since a comment cannot be deleted in Graph.
//
// Planning is pure: Plans turns audit records into what there is to undo on
// each incident, and the decide functions turn a plan and the incident as
// Graph shows it now into steps. An Undoer carries the steps out against a
// small Graph interface and audits each one on the incident's audit subject
// (actions undo_patch, undo_tag, undo_block and undo_comment), which is also
// how a second run knows what the first one did.
package undo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/worker"
)

// Record is one audit record with its sequence in the audit stream, which
// undo records cite to say which records they undid.
type Record struct {
	Seq uint64
	worker.AuditEvent
}

// Filter selects the audit records to read.
type Filter struct {
	// Rule is the rule to undo (required).
	Rule string
	// Incident limits the records to one incident ("" for all).
	Incident string
	// Since skips records stored before it (zero: the whole stream).
	Since time.Time
}

// Read returns the records of f.Rule (the rule's own actions and earlier
// undo runs of it) stored in the audit stream, oldest first, read up to the
// stream's last message when Read is called. Records that are not audit
// JSON are skipped and counted.
func Read(ctx context.Context, js jetstream.JetStream, stream string, f Filter) (recs []Record, unreadable int, err error) {
	msgs, _, err := broker.Snapshot(ctx, js, stream, f.Since)
	if err != nil {
		return nil, 0, err
	}
	for m, err := range msgs {
		if err != nil {
			return nil, unreadable, fmt.Errorf("read audit records: %w", err)
		}
		var a worker.AuditEvent
		if json.Unmarshal(m.Data(), &a) != nil {
			unreadable++
			continue
		}
		if a.Rule != f.Rule || (f.Incident != "" && a.Incident != f.Incident) {
			continue
		}
		recs = append(recs, Record{Seq: m.Meta.Sequence.Stream, AuditEvent: a})
	}
	return recs, unreadable, nil
}
