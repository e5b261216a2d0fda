package worker_test

import (
	"context"
	"testing"

	"github.com/graphsoar/graphsoar/internal/consume"
	"github.com/graphsoar/graphsoar/internal/fixtures"
)

// FuzzHandle runs the whole event path (decode, bounds, evaluate with the
// starter rules, plan, Graph writes against the emulator) on any message
// body: it never panics, and every event it rejects carries a reason for the
// dead-letter subject.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"ransomware-created.json", "ransomware-updated.json", "redteam-created.json",
		"phishing-created.json", "thin-reference.json", "bare-incident.json"} {
		f.Add(fixtures.Read(name))
	}
	f.Add([]byte(`{"specversion":"1.0","id":"x","type":"com.microsoft.graph.security.incident.updated","data":{"id":"4212","alerts":[{"evidence":[{"@odata.type":"#microsoft.graph.security.fileEvidence"}]}]}}`))
	f.Add([]byte(`{"id":"4212","tenantId":"` + tenant + `","lastUpdateDateTime":"2999-01-01T00:00:00Z"}`))
	f.Add([]byte("not json"))
	wd := newWorld(f, redTeamRule)
	f.Fuzz(func(t *testing.T, body []byte) {
		d := delivery(t, "redteam-created.json", 1, 1)
		d.Msg = msg{subject: d.Subject, data: body}
		r := wd.w.Handle(context.Background(), d)
		switch r.Verdict {
		case consume.DeadLetter:
			if r.Reason == "" || r.Err == nil {
				t.Fatalf("a rejection without a reason or an error: %+v", r)
			}
		case consume.Retry, consume.Release:
			if r.Reason == "" {
				t.Fatalf("a retry without a reason: %+v", r)
			}
		}
	})
}
