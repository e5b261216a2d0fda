package undo

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/worker"
)

const (
	tenantA = "t1"
	hash1   = "9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"
	hash2   = "0e1d2c3b4a5968778695a4b3c2d1e0f00e1d2c3b4a5968778695a4b3c2d1e0f0"
)

// rec is an applied record of rule r on incident inc.
func rec(seq uint64, inc, action string, mod func(*Record)) Record {
	r := Record{Seq: seq, AuditEvent: worker.AuditEvent{Tenant: tenantA, Incident: inc, Rule: "r", Action: action, Result: "applied",
		Time: time.Date(2026, 11, 20, 10, 0, int(seq), 0, time.UTC)}}
	if mod != nil {
		mod(&r)
	}
	return r
}

func changes(cs ...string) func(*Record) {
	return func(r *Record) {
		for i := 0; i+2 < len(cs)+1; i += 3 {
			r.Changes = append(r.Changes, worker.Change{Field: cs[i], From: cs[i+1], To: cs[i+2]})
		}
	}
}

func undoRec(seq uint64, inc, action, step, result string, records []uint64, extra actions.Params) Record {
	p := actions.Params{"step": step, "records": seqParam(records), "detail": "did " + step}
	for k, v := range extra {
		p[k] = v
	}
	return rec(seq, inc, action, func(r *Record) { r.Result, r.Params = result, p })
}

func TestPlans(t *testing.T) {
	t.Parallel()
	classify := func(seq uint64, inc string, cs ...string) Record {
		r := rec(seq, inc, "classify", changes(cs...))
		r.Params = actions.Params{"classification": "truePositive", "determination": "malware"}
		return r
	}
	tests := []struct {
		name string
		recs []Record
		want string // fmt of the plans' essentials
	}{
		{"one incident, every kind", []Record{
			rec(1, "1", "set_status", changes("status", "active", "resolved")),
			classify(2, "1", "classification", "unknown", "truePositive", "determination", "unknown", "malware"),
			rec(3, "1", "tag", func(r *Record) { r.TagsAdded = []string{"a", "b"} }),
			rec(4, "1", "comment", func(r *Record) { r.Params = actions.Params{"comment": "hello"} }),
			rec(5, "1", "block_file_hash", func(r *Record) {
				r.Params = actions.Params{"hash": hash1}
				r.Block = &worker.BlockRef{Backend: "indicators", ID: "7", Hash: hash1}
			}),
		}, `1 records [1 2 3 4 5] groups [status:[[{status active resolved}]] classification+determination:[[{classification unknown truePositive} {determination unknown malware}]]] tags [a b] blocks [{indicators 7 9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7}] comments [hello] unknown [] earlier []`},
		{"changes of one property newest first; tags once, in order", []Record{
			rec(1, "1", "assign", changes("assignedTo", "", "tier2")),
			rec(2, "1", "tag", func(r *Record) { r.TagsAdded = []string{"b"} }),
			rec(3, "1", "assign", changes("assignedTo", "bob", "tier2")),
			rec(4, "1", "tag", func(r *Record) { r.TagsAdded = []string{"a", "b"} }),
		}, `1 records [1 2 3 4] groups [assignedTo:[[{assignedTo bob tier2}] [{assignedTo  tier2}]]] tags [b a] blocks [] comments [] unknown [] earlier []`},
		{"classify that changed one of the pair names the other as set", []Record{
			classify(1, "1", "determination", "other", "malware"),
		}, `1 records [1] groups [classification+determination:[[{determination other malware} {classification truePositive truePositive}]]] tags [] blocks [] comments [] unknown [] earlier []`},
		{"records that name nothing to undo are unknown; a block without a ref is looked up by hash", []Record{
			rec(1, "1", "set_status", nil),
			rec(2, "1", "block_file_hash", func(r *Record) { r.Params = actions.Params{"hash": hash1} }),
		}, `1 records [1 2] groups [] tags [] blocks [{securityActions  9f2c7e1b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7}] comments [] unknown [1] earlier []`},
		{"other results, rules and dry runs are not undone", []Record{
			rec(1, "1", "set_status", func(r *Record) { r.Result = "unchanged" }),
			rec(2, "1", "set_status", func(r *Record) { r.Rule = "other"; r.Changes = []worker.Change{{Field: "status", From: "a", To: "b"}} }),
			rec(3, "1", "set_status", func(r *Record) { r.DryRun = true; r.Changes = []worker.Change{{Field: "status", From: "a", To: "b"}} }),
		}, ``},
		{"incidents in the order they first appear", []Record{
			rec(1, "2", "tag", func(r *Record) { r.TagsAdded = []string{"x"} }),
			rec(2, "1", "tag", func(r *Record) { r.TagsAdded = []string{"y"} }),
			rec(3, "2", "tag", func(r *Record) { r.TagsAdded = []string{"z"} }),
		}, `2 records [1 3] groups [] tags [x z] blocks [] comments [] unknown [] earlier []
1 records [2] groups [] tags [y] blocks [] comments [] unknown [] earlier []`},
		{"a finished undo covers its records; later ones are planned", []Record{
			rec(1, "1", "set_status", changes("status", "active", "resolved")),
			undoRec(2, "1", ActionPatch, KeyStatus, Applied, []uint64{1}, nil),
			undoRec(3, "1", ActionComment, KeyComment, Applied, []uint64{1}, actions.Params{"complete": "true"}),
			rec(4, "1", "set_status", changes("status", "active", "resolved")),
		}, `1 records [4] groups [status:[[{status active resolved}]]] tags [] blocks [] comments [] unknown [] earlier []`},
		{"everything finished", []Record{
			rec(1, "1", "set_status", changes("status", "active", "resolved")),
			undoRec(2, "1", ActionComment, KeyComment, Applied, []uint64{1}, actions.Params{"complete": "true"}),
		}, `1 records [] undone 2026-11-20T10:00:02Z`},
		{"an unfinished run's applied steps of the same records are earlier; others are not", []Record{
			rec(1, "1", "set_status", changes("status", "active", "resolved")),
			rec(2, "1", "tag", func(r *Record) { r.TagsAdded = []string{"a"} }),
			undoRec(3, "1", ActionPatch, KeyStatus, Applied, []uint64{1, 2}, nil),
			undoRec(4, "1", ActionTag, KeyTags, Failed, []uint64{1, 2}, nil),
			undoRec(5, "1", ActionComment, KeyComment, Skipped, []uint64{1, 2}, nil),
			undoRec(6, "1", ActionBlock, "block:x", Applied, []uint64{1}, nil),
		}, `1 records [1 2] groups [status:[[{status active resolved}]]] tags [a] blocks [] comments [] unknown [] earlier [status]`},
		{"an undo comment that is not complete covers nothing", []Record{
			rec(1, "1", "set_status", changes("status", "active", "resolved")),
			undoRec(2, "1", ActionComment, KeyComment, Skipped, []uint64{1}, nil),
		}, `1 records [1] groups [status:[[{status active resolved}]]] tags [] blocks [] comments [] unknown [] earlier []`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got string
			for i, p := range Plans(tt.recs, "r", "securityActions") {
				if i > 0 {
					got += "\n"
				}
				got += describe(p)
			}
			if got != tt.want {
				t.Errorf("plans:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func describe(p Plan) string {
	if len(p.Records) == 0 {
		return fmt.Sprintf("%s records [] undone %s", p.Incident, p.UndoneAt.Format(time.RFC3339))
	}
	var groups []string
	for _, g := range p.Groups {
		groups = append(groups, fmt.Sprintf("%s:%v", g.Key, g.Changes))
	}
	var unknown []uint64
	for _, r := range p.Unknown {
		unknown = append(unknown, r.Seq)
	}
	var earlier []string
	for k := range p.Earlier {
		earlier = append(earlier, k)
	}
	return fmt.Sprintf("%s records %v groups %v tags %v blocks %v comments %v unknown %v earlier %v",
		p.Incident, p.Records, list(groups), list(p.Tags), p.Blocks, list(p.Comments), unknown, list(earlier))
}

func list[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func TestSeqsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, seqs := range [][]uint64{{1}, {3, 18, 1 << 40}} {
		p := actions.Params{"records": seqParam(seqs)}
		if got := Seqs(p); !reflect.DeepEqual(got, seqs) {
			t.Errorf("Seqs(%v) = %v", p, got)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back actions.Params
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := Seqs(back); !reflect.DeepEqual(got, seqs) {
			t.Errorf("Seqs of %s read back = %v", b, got)
		}
	}
}
