package main

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/natstest"
)

const replayRulesNew = `
rules:
  - id: high
    order: 1
    when: incident.severity == "high"
    actions: [{tag: hot}, {comment: "hot {{ incident.id }}"}]
`

const replayRulesOld = `
rules:
  - id: high
    order: 1
    when: incident.severity == "high"
    actions: [{tag: hot}]
`

func replayHistory() []string {
	var out []string
	for i := range 6 {
		sev := "low"
		if i%2 == 0 {
			sev = "high"
		}
		out = append(out, incidentLine(fmt.Sprint(100+i), sev, "ws-1.contoso.com"))
	}
	return append(out, "not json")
}

func TestReplayCommand(t *testing.T) {
	t.Parallel()
	lines := replayHistory()
	dir := writeFiles(t, map[string]string{
		"new/r.yaml": replayRulesNew, "old/r.yaml": replayRulesOld,
		"export.jsonl": strings.Join(lines, "\n") + "\n",
	})
	r := cli(t, nil, "", "replay", "--rules", dir+"/new", "--against", dir+"/old", "--events", dir+"/export.jsonl", "--format", "json")
	if r.code != 0 {
		t.Fatalf("code %d: %s", r.code, r.err)
	}
	if strings.Contains(r.err, "\r") {
		t.Errorf("a progress bar on a pipe: %q", r.err)
	}
	var rep struct {
		Events    int `json:"events"`
		Incidents int `json:"incidents"`
		Invalid   []struct {
			Ref string `json:"ref"`
		} `json:"invalid"`
		Rules []struct {
			Rule    string         `json:"rule"`
			Matches int            `json:"matches"`
			Actions map[string]int `json:"actions"`
		} `json:"rules"`
		Diff []struct {
			Event    string `json:"event"`
			Incident string `json:"incident"`
			Added    []struct {
				Rule   string         `json:"rule"`
				Type   string         `json:"type"`
				Params map[string]any `json:"params"`
			} `json:"added"`
			Removed []any `json:"removed"`
		} `json:"diff"`
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if rep.Events != 7 || rep.Incidents != 6 || len(rep.Invalid) != 1 || !strings.HasSuffix(rep.Invalid[0].Ref, "export.jsonl:7") {
		t.Errorf("counts %+v", rep)
	}
	if len(rep.Rules) != 1 || rep.Rules[0].Matches != 3 || !reflect.DeepEqual(rep.Rules[0].Actions, map[string]int{"tag": 3, "comment": 3}) {
		t.Errorf("rules %+v", rep.Rules)
	}
	if len(rep.Diff) != 3 {
		t.Fatalf("diff %+v", rep.Diff)
	}
	for i, d := range rep.Diff {
		want := fmt.Sprint(100 + 2*i)
		if d.Incident != want || len(d.Added) != 1 || d.Added[0].Type != "comment" || d.Added[0].Params["comment"] != "hot "+want || len(d.Removed) != 0 {
			t.Errorf("diff %d: %+v", i, d)
		}
	}

	// The same events in the stream give the same report.
	srv := natstest.Start(t)
	nc, _ := srv.Connect()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "EVENTS", Subjects: []string{"security.incidents.>"}}); err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		if _, err := js.Publish(fmt.Sprintf("security.incidents.t1.%d", 100+i), []byte(l), nats.Context(context.Background())); err != nil {
			t.Fatal(err)
		}
	}
	s := cli(t, nil, "", "replay", "--rules", dir+"/new", "--against", dir+"/old", "--nats-url", srv.URL(), "--stream", "EVENTS", "--format", "json")
	if s.code != 0 {
		t.Fatalf("stream: code %d: %s", s.code, s.err)
	}
	fileOut := strings.Replace(r.out, dir+"/export.jsonl:7", "EVENTS#7", 1)
	if s.out != fileOut {
		t.Errorf("stream report differs from the file's:\n%s\nfile:\n%s", s.out, fileOut)
	}
}

func TestReplayCommandErrors(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"r.yaml": replayRulesNew})
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"replay", "--rules", dir}, 2, "--events FILE (or -) or --nats-url is required"},
		{[]string{"replay", "--rules", dir, "--events", "-", "--format", "yaml"}, 2, "--format"},
		{[]string{"replay", "--rules", dir, "--nats-url", "nats://127.0.0.1:1", "--since", "soon"}, 2, "--since"},
		{[]string{"replay", "--rules", dir, "--events", dir + "/missing.jsonl"}, 1, "missing.jsonl"},
	}
	for _, tt := range tests {
		r := cli(t, nil, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.err, tt.msg) {
			t.Errorf("%v: code %d, stderr %q; want %d, %q", tt.args, r.code, r.err, tt.code, tt.msg)
		}
	}
}
