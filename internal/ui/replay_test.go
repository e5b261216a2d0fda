package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/dlq"
)

// deadLetter stores a dead letter as the worker does (consume's headers on
// the original event) and returns its sequence in the dead-letter stream.
func (e *env) deadLetter(incidentID, eventID, reason string) (seq uint64, subject string, body []byte) {
	e.t.Helper()
	subject = "security.incidents." + tenant + "." + incidentID
	body = fmt.Appendf(nil, `{"specversion":"1.0","id":%q,"type":"com.microsoft.graph.security.incident.updated","tenantid":%q,"data":{"id":%q}}`,
		eventID, tenant, incidentID)
	m := nats.NewMsg(consume.DeadLetterSubject(tenant, incidentID))
	m.Data = body
	m.Header.Set("Ce-Source", "producer-x")
	m.Header.Set(consume.HeaderOrigPrefix+nats.MsgIdHdr, tenant+":"+incidentID+":v1")
	m.Header.Set(consume.HeaderReason, reason)
	m.Header.Set(consume.HeaderError, "thin event "+eventID+": incident "+incidentID+" not found")
	m.Header.Set(consume.HeaderDeliveries, "1")
	m.Header.Set(consume.HeaderStream, e.topo.Stream)
	m.Header.Set(consume.HeaderStreamSeq, "7")
	m.Header.Set(consume.HeaderSubject, subject)
	m.Header.Set(consume.HeaderDeadLettered, time.Now().UTC().Format(time.RFC3339Nano))
	ack, err := e.js.PublishMsg(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	return ack.Sequence, subject, body
}

// TestReplay: the replay endpoint publishes a dead letter again to its
// producer's subject, with its body and headers and the mark of a replay,
// and takes it out of the dead-letter stream.
func TestReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	keep, _, _ := e.deadLetter("4300", "ev-kept", "malformed")
	seq, subject, body := e.deadLetter("4299", "ev-dead", "incident_not_found")

	code, out := e.do(http.MethodGet, "/api/dlq", "", nil)
	var letters []dlq.Letter
	if err := json.Unmarshal([]byte(out), &letters); code != 200 || err != nil || len(letters) != 2 || letters[1].Reason != "incident_not_found" || letters[1].Event != "ev-dead" {
		t.Fatalf("GET /api/dlq: %d %s", code, out)
	}

	code, out = e.do(http.MethodPost, fmt.Sprintf("/api/dlq/%d/replay", seq), "", nil)
	var res struct {
		Subject string `json:"subject"`
		Stored  uint64 `json:"stored"`
	}
	if err := json.Unmarshal([]byte(out), &res); code != 200 || err != nil || res.Subject != subject || res.Stored == 0 {
		t.Fatalf("replay: %d %s", code, out)
	}
	ctx := context.Background()
	s, err := e.js.Stream(ctx, e.topo.Stream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, res.Stored)
	if err != nil {
		t.Fatalf("the replayed event is not in %s: %v", e.topo.Stream, err)
	}
	if m.Subject != subject || string(m.Data) != string(body) {
		t.Errorf("replayed %s %s, want %s %s", m.Subject, m.Data, subject, body)
	}
	if got, want := m.Header.Get(consume.HeaderReplayOf), fmt.Sprintf("%s:%d", e.topo.DLQStream, seq); got != want {
		t.Errorf("%s %q, want %q", consume.HeaderReplayOf, got, want)
	}
	if m.Header.Get("Ce-Source") != "producer-x" {
		t.Errorf("the producer's header is lost: %v", m.Header)
	}

	code, out = e.do(http.MethodGet, "/api/dlq", "", nil)
	if err := json.Unmarshal([]byte(out), &letters); code != 200 || err != nil || len(letters) != 1 || letters[0].Seq != keep {
		t.Errorf("after the replay the dead letters are %s, want only %d", out, keep)
	}
	if code, out := e.do(http.MethodPost, fmt.Sprintf("/api/dlq/%d/replay", seq), "", nil); code != http.StatusNotFound {
		t.Errorf("a second replay: %d %s, want 404", code, out)
	}
	if code, out := e.do(http.MethodPost, "/api/dlq/x/replay", "", nil); code != http.StatusBadRequest || !strings.Contains(out, "positive number") {
		t.Errorf("a bad sequence: %d %s", code, out)
	}
}
