package streamsrc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/graphsoar/graphsoar/internal/natstest"
	"github.com/graphsoar/graphsoar/internal/replay"
	"github.com/graphsoar/graphsoar/internal/replay/streamsrc"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// startJetStream starts an in-process NATS server with JetStream and the
// incident stream, partitioned as the worker makes it.
func startJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := natstest.Start(t).Connect()
	_, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "INCIDENTS", Subjects: []string{"security.incidents.>"},
		SubjectTransform: &jetstream.SubjectTransformConfig{
			Source:      "security.incidents.*.*",
			Destination: "graphsoar.incidents.{{partition(8,1)}}.{{wildcard(1)}}.{{wildcard(2)}}",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func loadRules(t *testing.T, body string) *rules.RuleSet {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rules.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

const rulesNew = `
rules:
  - id: raised
    order: 1
    when: changed("severity") && incident.severity == "high"
    actions: [{tag: raised}]
  - id: vip
    order: 2
    when: '"vip" in incident.customTags'
    actions: [{tag: vip-new}]
`

const rulesOld = `
rules:
  - id: vip
    order: 2
    when: '"vip" in incident.customTags'
    actions: [{tag: vip-old}]
`

// events is a history of 40 events over 10 incidents, versions in order,
// with repeats (stale) and one that is not JSON.
func events() []string {
	severities := []string{"low", "medium", "high", "high"}
	var out []string
	for v := range 4 {
		for i := range 10 {
			ts := time.Date(2026, 11, 20, 8, v, 0, 0, time.UTC).Format(time.RFC3339)
			tag := "x"
			if i%3 == 0 {
				tag = "vip"
			}
			out = append(out, fmt.Sprintf(`{"specversion":"1.0","id":"e-%d-%d","type":"com.microsoft.graph.security.incident.updated","tenantid":"t1",`+
				`"data":{"id":"%d","tenantId":"t1","status":"active","severity":%q,"lastUpdateDateTime":%q,"customTags":[%q]}}`,
				i, v, i, severities[v], ts, tag))
		}
	}
	out[7] = out[2]   // a repeat: stale
	out[25] = "{nope" // unreadable
	return out
}

func publish(t *testing.T, js jetstream.JetStream, lines []string) {
	t.Helper()
	for _, l := range lines {
		subject := "security.incidents.t1.unknown"
		var e struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(l), &e) == nil {
			subject = "security.incidents.t1." + e.Data.ID
		}
		if _, err := js.Publish(context.Background(), subject, []byte(l)); err != nil {
			t.Fatal(err)
		}
	}
}

// comparable is a report without the places of its invalid events (a line
// number in a file, a sequence in the stream).
func comparable(rep *replay.Report) *replay.Report {
	c := *rep
	c.Invalid = nil
	return &c
}

func TestStreamGivesTheSameReportAsTheFile(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	lines := events()
	publish(t, js, lines)
	opts := replay.Options{Rules: loadRules(t, rulesNew), Against: loadRules(t, rulesOld), Now: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
	fromFile, err := replay.Run(context.Background(), opts, replay.Lines(strings.NewReader(strings.Join(lines, "\n")), "export.jsonl", 0))
	if err != nil {
		t.Fatal(err)
	}
	src, err := streamsrc.Read(context.Background(), js, "INCIDENTS", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// Messages published after the replay starts are not read.
	publish(t, js, lines[:3])
	fromStream, err := replay.Run(context.Background(), opts, src)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Events != 40 || fromFile.Stale != 1 || len(fromFile.Invalid) != 1 || len(fromFile.Diff) == 0 {
		t.Fatalf("file report %+v", fromFile)
	}
	if !reflect.DeepEqual(comparable(fromFile), comparable(fromStream)) {
		t.Errorf("file and stream differ:\n%+v\n%+v", fromFile, fromStream)
	}
	if got := fromStream.Invalid; len(got) != 1 || got[0].Ref != "INCIDENTS#26" {
		t.Errorf("invalid %+v", got)
	}
}

func TestStreamTimeRange(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)
	lines := events()
	publish(t, js, lines[:20])
	time.Sleep(50 * time.Millisecond)
	mid := time.Now()
	time.Sleep(50 * time.Millisecond)
	publish(t, js, lines[20:30])
	time.Sleep(50 * time.Millisecond)
	end := time.Now()
	time.Sleep(50 * time.Millisecond)
	publish(t, js, lines[30:])
	tests := []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"all", time.Time{}, time.Time{}, 40},
		{"since", mid, time.Time{}, 20},
		{"until", time.Time{}, mid, 20},
		{"between", mid, end, 10},
		{"after the end", time.Now().Add(time.Hour), time.Time{}, 0},
	}
	for _, tt := range tests {
		src, err := streamsrc.Read(context.Background(), js, "INCIDENTS", tt.since, tt.until)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, err := range src {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != tt.want {
			t.Errorf("%s: %d messages, want %d", tt.name, n, tt.want)
		}
	}
	if _, err := streamsrc.Read(context.Background(), js, "NOPE", time.Time{}, time.Time{}); err == nil {
		t.Error("a missing stream is not an error")
	}
}
