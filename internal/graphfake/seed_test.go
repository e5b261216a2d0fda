package graphfake_test

import (
	"errors"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

func TestSeedFixtures(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{})
	if err := s.SeedFS(fixtures.FS()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Incidents()); n != 3 {
		t.Fatalf("%d incidents, want 3 (4211, 4212, 4213; thin skipped)", n)
	}
	for _, id := range []string{"4211", "4212", "4213"} {
		inc, ok := s.Incident(id)
		if !ok {
			t.Fatalf("incident %s missing", id)
		}
		alerts, _ := inc["alerts"].([]any)
		if len(alerts) == 0 {
			t.Errorf("incident %s lost its alerts", id)
		}
		if inc["tenantId"] != tenantA {
			t.Errorf("incident %s tenantId %v", id, inc["tenantId"])
		}
	}
	inc, _ := s.Incident("4211")
	if inc["status"] != "inProgress" || inc["lastUpdateDateTime"] != "2026-11-20T09:30:00.000Z" {
		t.Errorf("4211 should be the later (updated) version, got status %v at %v", inc["status"], inc["lastUpdateDateTime"])
	}
	ev := inc["alerts"].([]any)[0].(map[string]any)["evidence"].([]any)
	if len(ev) != 3 || ev[0].(map[string]any)["@odata.type"] == nil {
		t.Errorf("evidence not kept polymorphic: %v", ev)
	}

	// Incident returns a deep copy.
	inc["status"] = "resolved"
	inc["alerts"].([]any)[0].(map[string]any)["title"] = "changed"
	again, _ := s.Incident("4211")
	if again["status"] != "inProgress" || again["alerts"].([]any)[0].(map[string]any)["title"] == "changed" {
		t.Error("Incident did not return a deep copy")
	}
}

func TestSeedLaterLastUpdateWins(t *testing.T) {
	t.Parallel()
	for _, order := range [][]string{
		{"ransomware-created.json", "ransomware-updated.json"},
		{"ransomware-updated.json", "ransomware-created.json"},
	} {
		s := graphfake.New(graphfake.Options{})
		for _, name := range order {
			if err := s.Seed(fixtures.Read(name)); err != nil {
				t.Fatal(err)
			}
		}
		if inc, _ := s.Incident("4211"); inc["status"] != "inProgress" {
			t.Errorf("order %v: status %v, want inProgress", order, inc["status"])
		}
	}
}

func TestSeedThinEnvelopeSkipped(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{})
	if err := s.Seed(fixtures.Read("thin-reference.json")); err != nil {
		t.Fatalf("thin envelope: %v", err)
	}
	if n := len(s.Incidents()); n != 0 {
		t.Errorf("thin envelope stored %d incidents", n)
	}
}

func TestSeedShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		raw     string
		wantIDs []string
		wantErr bool
	}{
		{"bare", `{"id":"1","createdDateTime":"2026-01-01T00:00:00Z"}`, []string{"1"}, false},
		{"envelope", `{"specversion":"1.0","data":{"id":"2","status":"active"}}`, []string{"2"}, false},
		{"array", `[{"id":"3","status":"active"},{"specversion":"1.0","data":{"id":"4","status":"active"}},{"specversion":"1.0","data":{"id":"5"}}]`, []string{"3", "4"}, false},
		{"empty array", `[]`, nil, false},
		{"invalid json", `{"id":`, nil, true},
		{"trailing data", `{"id":"1","status":"active"} {}`, nil, true},
		{"number", `42`, nil, true},
		{"no id", `{"status":"active"}`, nil, true},
		{"numeric id", `{"id":4211,"status":"active"}`, nil, true},
		{"envelope without data", `{"specversion":"1.0","id":"e1"}`, nil, true},
		{"bad date", `{"id":"1","lastUpdateDateTime":"yesterday"}`, nil, true},
		{"alerts not array", `{"id":"1","alerts":{}}`, nil, true},
		{"one bad item rejects all", `[{"id":"7","status":"active"},{"status":"active"}]`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := graphfake.New(graphfake.Options{})
			err := s.Seed([]byte(tc.raw))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			got := s.Incidents()
			if len(got) != len(tc.wantIDs) {
				t.Fatalf("%d incidents, want %v", len(got), tc.wantIDs)
			}
			for i, id := range tc.wantIDs {
				if got[i]["id"] != id {
					t.Errorf("incident %d id %v, want %s", i, got[i]["id"], id)
				}
			}
		})
	}
}

func TestSeedEnvelopeFillsTenant(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{})
	err := s.Seed([]byte(`{"specversion":"1.0","tenantid":"` + tenantB + `","data":{"id":"8","status":"active"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if inc, _ := s.Incident("8"); inc["tenantId"] != tenantB {
		t.Errorf("tenantId %v, want the envelope's tenantid", inc["tenantId"])
	}
}

func TestSeedDir(t *testing.T) {
	t.Parallel()
	s := graphfake.New(graphfake.Options{})
	if err := s.SeedDir("testdata/seed"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"9001", "9002"} {
		inc, ok := s.Incident(id)
		if !ok || inc["tenantId"] != tenantB {
			t.Errorf("incident %s: %v %v", id, ok, inc["tenantId"])
		}
	}
	if err := s.SeedDir("testdata/does-not-exist"); err == nil {
		t.Error("SeedDir of a missing directory: no error")
	}
	bad := t.TempDir()
	writeFile(t, bad+"/a.json", `{"id":"1","status":"active"}`)
	writeFile(t, bad+"/b.json", `not json`)
	s2 := graphfake.New(graphfake.Options{})
	if err := s2.SeedDir(bad); err == nil {
		t.Error("SeedDir with a bad file: no error")
	}
	if len(s2.Incidents()) != 0 {
		t.Error("SeedDir stored incidents although a file failed")
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	s := graphfake.New(graphfake.Options{Now: clock.Now})
	if err := s.SeedFS(fixtures.FS()); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Incident("4212")
	err := s.Update("4212", func(inc map[string]any) {
		inc["severity"] = "high"
		inc["customTags"] = []string{"escalated"}
		inc["id"] = "changed"
	})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Incident("4212")
	if after["severity"] != "high" || after["id"] != "4212" {
		t.Errorf("after Update: severity %v id %v", after["severity"], after["id"])
	}
	if tags, _ := after["customTags"].([]any); len(tags) != 1 || tags[0] != "escalated" {
		t.Errorf("customTags %v", after["customTags"])
	}
	if !mustTime(t, after["lastUpdateDateTime"]).After(mustTime(t, before["lastUpdateDateTime"])) {
		t.Errorf("lastUpdateDateTime did not move: %v -> %v", before["lastUpdateDateTime"], after["lastUpdateDateTime"])
	}
	if after["lastUpdateDateTime"] != "2026-11-20T12:00:00.0000000Z" {
		t.Errorf("lastUpdateDateTime %v, want the clock's time in Graph's format", after["lastUpdateDateTime"])
	}

	// fn may set lastUpdateDateTime itself.
	_ = s.Update("4212", func(inc map[string]any) { inc["lastUpdateDateTime"] = "2026-11-20T13:00:00Z" })
	if inc, _ := s.Incident("4212"); inc["lastUpdateDateTime"] != "2026-11-20T13:00:00Z" {
		t.Errorf("explicit lastUpdateDateTime not kept: %v", inc["lastUpdateDateTime"])
	}
	if err := s.Update("nope", func(map[string]any) {}); !errors.Is(err, graphfake.ErrNotFound) {
		t.Errorf("Update of unknown id: %v", err)
	}
	if err := s.Update("4212", func(inc map[string]any) { inc["bad"] = make(chan int) }); err == nil {
		t.Error("Update with an unencodable value: no error")
	}
}
