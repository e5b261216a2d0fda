package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
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

// smallBuffers is a listener whose connections have a small send buffer,
// so that a client that does not read blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestStuckBrowserIsDropped: a browser that stops reading its stream is
// dropped within the write timeout, whether its stream was already open or
// was sending what the page knows: the handler returns, and the page
// serves other browsers.
func TestStuckBrowserIsDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{writeTimeout: 300 * time.Millisecond})
	ended := make(chan string, 4)
	h := e.page.Handler()
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		ended <- r.URL.Path
	}))
	hs.Listener = smallBuffers{hs.Listener}
	hs.Start()
	t.Cleanup(hs.Close)

	// stuck opens a stream, reads its response header (the page sent what
	// it knew) and then reads nothing more.
	stuck := func() {
		c, err := net.Dial("tcp", hs.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() }) // before the server's Close: cleanups run last first
		_ = c.(*net.TCPConn).SetReadBuffer(4096)
		if _, err := fmt.Fprintf(c, "GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stream: %v %v", resp, err)
		}
	}
	// big stores n audit records of about 4 KB, each its own event.
	big := func(prefix string, n int) {
		for i := range n {
			a := record(fmt.Sprintf("%s-%d", prefix, i), "block-known-ransomware", "classify", "failed")
			a.Error = strings.Repeat("x", 4096)
			e.audit(a)
		}
	}
	waitEnded := func(what string) {
		t.Helper()
		select {
		case path := <-ended:
			if path != "/api/stream" {
				t.Fatalf("%s: %s ended", what, path)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the stream of a browser that reads nothing is still open", what)
		}
	}

	// An open stream, then 200 events (fewer than a stream may fall
	// behind: the page would not drop it for that).
	stuck()
	big("live", 200)
	waitEnded("while the stream was open")

	// The page knows those 200 events: a new stream starts with them.
	waitUntil(t, 10*time.Second, "the events in the page's state", func() bool {
		_, body := e.do(http.MethodGet, "/api/state", "", nil)
		return strings.Contains(body, `"event":"live-199"`)
	})
	stuck()
	waitEnded("while the stream was sending what the page knew")

	// A browser that reads is served as ever.
	s := e.openStream(nil)
	s.waitFor(t, 10*time.Second, "an event", func(ev sseEvent) bool {
		return ev.kind == "record" && strings.Contains(ev.data, `"event":"live-199"`)
	})
}
