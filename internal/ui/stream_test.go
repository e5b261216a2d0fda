package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/approval"
	"github.com/graphsoar/graphsoar/internal/telemetry"
	"github.com/graphsoar/graphsoar/internal/worker"
)

type eventView struct {
	Event    string              `json:"event"`
	Incident string              `json:"incident"`
	Rules    []string            `json:"rules"`
	Records  []worker.AuditEvent `json:"records"`
}

func record(event, rule, action, result string) worker.AuditEvent {
	return worker.AuditEvent{Time: time.Now().UTC(), Worker: "w1", Tenant: tenant, Incident: "4211", EventID: event,
		EventType: "created", Rule: rule, Action: action, Result: result, GraphStatus: 200, DurationMS: 12.5}
}

// TestStreamDeliversAuditRecords: audit records stored on the audit stream
// reach an open stream as they are stored, grouped by event, and the
// records stored before the stream opened come first.
func TestStreamDeliversAuditRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.audit(record("ev-before", "block-known-ransomware", "classify", "applied"))
	s := e.openStream(nil)
	isEvent := func(id string, records int) func(sseEvent) bool {
		return func(ev sseEvent) bool {
			var v eventView
			return ev.kind == "record" && json.Unmarshal([]byte(ev.data), &v) == nil && v.Event == id && len(v.Records) == records
		}
	}
	s.waitFor(t, 10*time.Second, "the record stored before", isEvent("ev-before", 1))

	e.audit(record("ev-live", "block-known-ransomware", "classify", "applied"))
	e.audit(record("ev-live", "escalate-ransomware", "set_status", "unchanged"))
	ev := s.waitFor(t, 10*time.Second, "both records of the live event", isEvent("ev-live", 2))
	var v eventView
	_ = json.Unmarshal([]byte(ev.data), &v)
	if strings.Join(v.Rules, ",") != "block-known-ransomware,escalate-ransomware" || v.Records[1].Result != "unchanged" || v.Records[0].DurationMS != 12.5 {
		t.Errorf("event view %+v", v)
	}

	// The rules section counts the matches the records show.
	s.waitFor(t, 10*time.Second, "the match counts", func(ev sseEvent) bool {
		if ev.kind != "rules" {
			return false
		}
		var sec struct {
			Items []struct {
				ID      string `json:"id"`
				Matches int    `json:"matches"`
			} `json:"items"`
		}
		if json.Unmarshal([]byte(ev.data), &sec) != nil {
			return false
		}
		counts := map[string]int{}
		for _, r := range sec.Items {
			counts[r.ID] = r.Matches
		}
		return counts["block-known-ransomware"] == 2 && counts["escalate-ransomware"] == 1 && counts["phishing-triage"] == 0
	})

	// A held action shows in the approvals section.
	e.store.mu.Lock()
	e.store.records = []approval.Record{held("h1")}
	e.store.mu.Unlock()
	hold := record("ev-held", "flag-vip-user", "tag", "awaiting_approval")
	hold.Approval = "h1"
	e.audit(hold)
	s.waitFor(t, 10*time.Second, "the held action", func(ev sseEvent) bool {
		return ev.kind == "approvals" && strings.Contains(ev.data, `"id":"h1"`) && strings.Contains(ev.data, `"status":"pending"`)
	})

	// The page's end ends the stream.
	e.stop()
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := s.next(); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("stream ended with %v, want EOF", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end when the page stopped")
	}
}

// TestShutdownEndsStreams: the telemetry server's shutdown ends an open
// stream at once instead of waiting for it.
func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	srv := telemetry.NewServer(telemetry.NewMetrics(), slog.New(slog.DiscardHandler))
	srv.Mount(e.page.Handler())
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Addr() + "/api/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v after %v", err, time.Since(start))
	}
	if _, err := io.ReadAll(resp.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the ended stream: %v", err)
	}
}
