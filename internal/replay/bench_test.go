package replay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/replay"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// benchHistory is n events: versions of n/10 incidents made from the full
// fixtures, each incident's versions in order, incidents interleaved.
func benchHistory(b *testing.B, n int) []byte {
	b.Helper()
	names := []string{"ransomware-created.json", "ransomware-updated.json", "redteam-created.json", "phishing-created.json"}
	severities := []string{"low", "medium", "high"}
	var out []byte
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for i := range n {
		var ev map[string]any
		if err := json.Unmarshal(fixtures.Read(names[i%len(names)]), &ev); err != nil {
			b.Fatal(err)
		}
		inc := ev["data"].(map[string]any)
		id := fmt.Sprint(50000 + i%(n/10))
		ts := t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		ev["id"], ev["subject"], ev["time"] = fmt.Sprintf("b-%d", i), id, ts
		inc["id"], inc["lastUpdateDateTime"], inc["severity"] = id, ts, severities[(i/7)%3]
		line, err := json.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		out = append(append(out, line...), '\n')
	}
	return out
}

// BenchmarkReplay replays 3,000 events through the starter library, alone and
// against itself (each event evaluated twice and the plans compared); it
// reports events per second.
func BenchmarkReplay(b *testing.B) {
	rs, err := rules.Load("../../rules", nil)
	if err != nil {
		b.Fatal(err)
	}
	history := benchHistory(b, 3000)
	for _, against := range []bool{false, true} {
		b.Run(fmt.Sprintf("against=%v", against), func(b *testing.B) {
			opts := replay.Options{Rules: rs}
			if against {
				opts.Against = rs
			}
			var events int
			for b.Loop() {
				// Each run reads its own copy of the lines.
				rep, err := replay.Run(context.Background(), opts, replay.Lines(strings.NewReader(string(history)), "h", 0))
				if err != nil {
					b.Fatal(err)
				}
				events += rep.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
