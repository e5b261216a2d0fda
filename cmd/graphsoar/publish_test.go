package main

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/fixtures"
)

// streamServer is an in-process NATS server with graphsoar's stream.
func streamServer(t *testing.T) (url string, js jetstream.JetStream) {
	t.Helper()
	url = natsServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ = jetstream.New(nc)
	if err := broker.EnsureStream(context.Background(), js, broker.DefaultTopology(), true); err != nil {
		t.Fatal(err)
	}
	return url, js
}

// lastMsg returns the stored message of a stream sequence.
func storedMsg(t *testing.T, js jetstream.JetStream, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), "INCIDENTS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatalf("message #%d: %v", seq, err)
	}
	return m
}

func TestPublishFile(t *testing.T) {
	t.Parallel()
	url, js := streamServer(t)
	file := fixtureFile(t, "ransomware-created.json")
	r := cli(t, nil, "", "publish", "--nats-url", url, "--event", file)
	want := "published  b6f7c0de-0001  security.incidents." + fixtureTenant + ".4211 (INCIDENTS #1)\n"
	if r.code != 0 || r.out != want {
		t.Fatalf("exit %d\nout: %q\nwant %q\nerr: %s", r.code, r.out, want, r.err)
	}
	m := storedMsg(t, js, 1)
	// The stream's subject transform files it under its partition; the
	// dedup header is the incident version.
	if got := m.Header.Get(nats.MsgIdHdr); got != fixtureTenant+":4211:2026-11-20T08:05:40.511Z" {
		t.Errorf("Nats-Msg-Id %q", got)
	}
	if string(m.Data) != string(fixtures.Read("ransomware-created.json")) {
		t.Error("the stored event differs from the file")
	}

	// The same event again is JetStream's duplicate, and says so.
	r = cli(t, nil, "", "publish", "--nats-url", url, "--event", file)
	if r.code != 0 || !strings.HasPrefix(r.out, "duplicate  b6f7c0de-0001") {
		t.Errorf("second publish: exit %d %q", r.code, r.out)
	}
	if n := streamCount(t, url); n != 1 {
		t.Errorf("stream holds %d events, want 1", n)
	}
}

func TestPublishJSONLines(t *testing.T) {
	t.Parallel()
	url, js := streamServer(t)
	lines := compactJSON(t, fixtures.Read("redteam-created.json")) + "\n" +
		"{not json\n" +
		"\n" +
		`{"specversion":"1.0","id":"e-no-tenant","type":"com.microsoft.graph.security.incident.updated","data":{"id":"77"}}` + "\n" +
		compactJSON(t, fixtures.Read("thin-reference.json")) + "\n"
	r := cli(t, nil, lines, "publish", "--nats-url", url, "--event", "-")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (two bad lines)\n%s%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"stdin:2: ", "stdin:4: event e-no-tenant: no tenant", "2 of 5 events not published"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if strings.Count(r.out, "published  ") != 2 {
		t.Errorf("want the two good lines published:\n%s", r.out)
	}
	// A thin event has no version: its event id is the dedup key.
	if got := storedMsg(t, js, 2).Header.Get(nats.MsgIdHdr); got != "b6f7c0de-0005" {
		t.Errorf("thin event Nats-Msg-Id %q", got)
	}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	noStream := natsServer(t)
	file := fixtureFile(t, "phishing-created.json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no event flag", []string{"publish", "--nats-url", noStream}, 2, "--event is required"},
		{"no stream", []string{"publish", "--nats-url", noStream, "--event", file}, 1, "no JetStream stream takes security.incidents." + fixtureTenant + ".4213"},
		{"missing file", []string{"publish", "--nats-url", noStream, "--event", file + ".missing"}, 1, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, nil, "", tc.args...)
			if r.code != tc.code || !strings.Contains(r.err, tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", r.code, tc.code, tc.want, r.err)
			}
		})
	}
}
