package incident_test

import (
	"testing"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/incident"
)

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"phishing-created.json", "ransomware-created.json"} {
		raw := fixtures.Read(name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := incident.Decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
