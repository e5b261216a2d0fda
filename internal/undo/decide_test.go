package undo

import (
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/incident"
	"github.com/graphsoar/graphsoar/internal/worker"
)

func ch(field, from, to string) worker.Change { return worker.Change{Field: field, From: from, To: to} }

func TestDecideGroup(t *testing.T) {
	t.Parallel()
	status := func(cs ...[]worker.Change) Group {
		return Group{Key: KeyStatus, Fields: []string{"status"}, Changes: cs}
	}
	pair := func(cs ...[]worker.Change) Group {
		return Group{Key: KeyPair, Fields: []string{"classification", "determination"}, Changes: cs}
	}
	assigned := func(cs ...[]worker.Change) Group {
		return Group{Key: KeyAssignedTo, Fields: []string{"assignedTo"}, Changes: cs}
	}
	tests := []struct {
		name      string
		g         Group
		cur       *incident.Incident
		result    string
		set       map[string]string
		leftAlone bool
		detail    string // a part of Detail, or of Reason when skipped
	}{
		{"Graph still shows the rule's value: it goes back",
			status([]worker.Change{ch("status", "active", "resolved")}), &incident.Incident{Status: "resolved"},
			Planned, map[string]string{"status": "active"}, false, "status resolved → active"},
		{"someone changed it since: left alone",
			status([]worker.Change{ch("status", "active", "resolved")}), &incident.Incident{Status: "inProgress"},
			Skipped, nil, true, "changed since: status is inProgress now, not resolved as the rule set it; left alone"},
		{"already back to the value before the rule: skipped, not left alone",
			status([]worker.Change{ch("status", "inProgress", "resolved")}, []worker.Change{ch("status", "active", "inProgress")}),
			&incident.Incident{Status: "active"}, Skipped, nil, false, "already back: status is active now, as before the rule"},
		{"the pair already back, none reading as unknown",
			pair([]worker.Change{ch("classification", "", "truePositive"), ch("determination", "", "malware")}),
			&incident.Incident{Classification: "unknown", Determination: "unknown"}, Skipped, nil, false,
			"already back: classification/determination is unknown/unknown now"},
		{"the rule's successive changes all go back",
			status([]worker.Change{ch("status", "inProgress", "resolved")}, []worker.Change{ch("status", "active", "inProgress")}),
			&incident.Incident{Status: "resolved"}, Planned, map[string]string{"status": "active"}, false, "status resolved → active"},
		{"the walk stops where someone else changed it between the rule's changes",
			assigned([]worker.Change{ch("assignedTo", "bob", "tier2")}, []worker.Change{ch("assignedTo", "", "tier2")}),
			&incident.Incident{AssignedTo: "tier2"}, Planned, map[string]string{"assignedTo": "bob"}, false, "assignedTo tier2 → bob"},
		{"unassigning goes back to no one",
			assigned([]worker.Change{ch("assignedTo", "", "tier2")}), &incident.Incident{AssignedTo: "tier2"},
			Planned, map[string]string{"assignedTo": ""}, false, "assignedTo tier2 → (none)"},
		{"the pair goes back together",
			pair([]worker.Change{ch("classification", "unknown", "truePositive"), ch("determination", "unknown", "malware")}),
			&incident.Incident{Classification: "truePositive", Determination: "malware"},
			Planned, map[string]string{"classification": "unknown", "determination": "unknown"}, false,
			"classification/determination truePositive/malware → unknown/unknown"},
		{"one of the pair changed since: both are left alone",
			pair([]worker.Change{ch("classification", "unknown", "truePositive"), ch("determination", "unknown", "malware")}),
			&incident.Incident{Classification: "truePositive", Determination: "phishing"},
			Skipped, nil, true, "classification/determination is truePositive/phishing now, not truePositive/malware"},
		{"only the determination changed: only it goes back, the pair checked",
			pair([]worker.Change{ch("determination", "other", "malware"), ch("classification", "truePositive", "truePositive")}),
			&incident.Incident{Classification: "truePositive", Determination: "malware"},
			Planned, map[string]string{"determination": "other"}, false, "truePositive/malware → truePositive/other"},
		{"a pair Defender does not take is left alone",
			pair([]worker.Change{ch("classification", "falsePositive", "truePositive")}),
			&incident.Incident{Classification: "truePositive", Determination: "malware"},
			Skipped, nil, false, `Defender does not take that pair (determination "malware" does not go with classification "falsePositive"`},
		{"no classification before reads as unknown",
			pair([]worker.Change{ch("classification", "", "truePositive"), ch("determination", "", "malware")}),
			&incident.Incident{Classification: "truePositive", Determination: "malware"},
			Planned, map[string]string{"classification": "unknown", "determination": "unknown"}, false, "→ unknown/unknown"},
		{"an unknown earlier status is not written",
			status([]worker.Change{ch("status", "", "resolved")}), &incident.Incident{Status: "resolved"},
			Skipped, nil, false, "the earlier status is not known"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := decideGroup(tt.g, tt.cur)
			if s.Result != tt.result || s.LeftAlone != tt.leftAlone || len(s.set) != len(tt.set) {
				t.Fatalf("%+v", s)
			}
			if s.restored != strings.HasPrefix(s.Reason, "already back") {
				t.Errorf("restored %v, reason %q", s.restored, s.Reason)
			}
			for f, v := range tt.set {
				if got, ok := s.set[f]; !ok || got != v {
					t.Errorf("sets %s to %q, want %q", f, got, v)
				}
			}
			if !strings.Contains(s.Detail+" | "+s.Reason, tt.detail) {
				t.Errorf("detail %q, reason %q: want %q in them", s.Detail, s.Reason, tt.detail)
			}
			if s.Action != ActionPatch || s.Key != tt.g.Key {
				t.Errorf("action %s, key %s", s.Action, s.Key)
			}
		})
	}
}

func TestDecideTags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, result, detail string
		have                 []string
		remove               []string
	}{
		{"all still there", Planned, "remove tags a, b", []string{"vip", "a", "b"}, []string{"a", "b"}},
		{"one removed already", Planned, "remove tags b (already removed: a)", []string{"b", "vip"}, []string{"b"}},
		{"all removed already", Skipped, "already removed: a, b", []string{"vip"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := decideTags([]string{"a", "b"}, &incident.Incident{CustomTags: tt.have})
			if s.Result != tt.result || strings.Join(s.remove, ",") != strings.Join(tt.remove, ",") {
				t.Fatalf("%+v", s)
			}
			if !strings.Contains(s.Detail+" | "+s.Reason, tt.detail) {
				t.Errorf("detail %q, reason %q", s.Detail, s.Reason)
			}
		})
	}
}

func TestDecideBlock(t *testing.T) {
	t.Parallel()
	ours := &graph.Indicator{ID: "12", IndicatorValue: hash1, Title: "graphsoar: r"}
	theirs := &graph.Indicator{ID: "12", IndicatorValue: hash1, Title: "SOC: keep blocked"}
	tests := []struct {
		name      string
		step      Step
		result    string
		leftAlone bool
		block     graph.Block
		text      string
	}{
		{"the rule's indicator is deleted by the id Defender has now",
			decideIndicator(worker.BlockRef{Backend: "indicators", ID: "9", Hash: hash1}, ours, "r"), Planned, false,
			graph.Block{Backend: graph.BlockIndicators, ID: "12"}, "delete indicator 12 of " + hash1},
		{"an indicator gone already",
			decideIndicator(worker.BlockRef{Backend: "indicators", Hash: hash1}, nil, "r"), Skipped, false, graph.Block{}, "no indicator of " + hash1 + " any more"},
		{"an indicator someone else retitled is left alone",
			decideIndicator(worker.BlockRef{Backend: "indicators", ID: "12", Hash: hash1}, theirs, "r"), Skipped, true, graph.Block{}, `titled "SOC: keep blocked" now`},
		{"another rule's indicator is left alone",
			decideIndicator(worker.BlockRef{Backend: "indicators", ID: "12", Hash: hash1}, ours, "other"), Skipped, true, graph.Block{}, `not "graphsoar: other"`},
		{"a security action is cancelled by its id",
			decideSecurityAction(worker.BlockRef{Backend: "securityActions", ID: "sa-1", Hash: hash1}), Planned, false,
			graph.Block{Backend: graph.BlockSecurityActions, ID: "sa-1"}, "cancel security action sa-1 blocking " + hash1},
		{"a security action without an id cannot be cancelled",
			decideSecurityAction(worker.BlockRef{Backend: "securityActions", Hash: hash1}), Skipped, false, graph.Block{},
			"names no security action id (recorded before graphsoar kept it): cancel the action blocking " + hash1 + " by hand in Defender"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.step
			if s.Result != tt.result || s.LeftAlone != tt.leftAlone || s.block != tt.block || s.Key != "block:"+hash1 || s.Action != ActionBlock {
				t.Fatalf("%+v", s)
			}
			if !strings.Contains(s.Detail+" | "+s.Reason, tt.text) {
				t.Errorf("detail %q, reason %q: want %q", s.Detail, s.Reason, tt.text)
			}
		})
	}
}

func TestCorrectionComment(t *testing.T) {
	t.Parallel()
	p := Plan{Rule: "r", Records: []uint64{4, 9}, Comments: []string{"one", "two"}}
	reverted := Step{Action: ActionPatch, Key: KeyPair, Detail: "classification/determination truePositive/malware → unknown/unknown", Result: Applied}
	alone := Step{Action: ActionPatch, Key: KeyStatus, Result: Skipped, LeftAlone: true, now: "inProgress"}
	tags := Step{Action: ActionTag, Key: KeyTags, Result: Applied, remove: []string{"a", "b"}}
	block := Step{Action: ActionBlock, Key: "block:h", Detail: "delete indicator 3 of h", Result: Applied, hash: "h"}
	gone := Step{Action: ActionBlock, Key: "block:g", Result: Skipped, hash: "g", Reason: "no indicator of g any more"}
	tests := []struct {
		name     string
		steps    []Step
		comments []*incident.Comment
		result   string
		complete bool
		text     string
	}{
		{"what was reverted and what was left alone", []Step{alone, reverted, tags, block, gone}, nil, Planned, false,
			"graphsoar undo: rule r's changes were reverted: classification/determination truePositive/malware → unknown/unknown; " +
				"tags removed: a, b; indicator 3 of h deleted. Left alone, changed since: status (now inProgress). " +
				"Its 2 comments on this incident no longer apply. (audit records #4–#9)"},
		{"nothing left to revert", []Step{alone}, nil, Planned, false,
			"graphsoar undo: rule r's changes were reverted: nothing was left to revert. Left alone, changed since: status (now inProgress). " +
				"Its 2 comments on this incident no longer apply. (audit records #4–#9)"},
		{"not posted while a step failed", []Step{reverted, {Action: ActionBlock, Result: Failed}}, nil, Skipped, false, ""},
		{"not posted twice", []Step{reverted}, []*incident.Comment{{Comment: "graphsoar undo: rule r's changes were reverted: x. (audit records #4–#9)"}},
			Skipped, true, ""},
		{"the comment of other records does not count", []Step{reverted},
			[]*incident.Comment{{Comment: "graphsoar undo: rule r's changes were reverted: x. (audit records #1–#3)"}}, Planned, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := decideComment(p, tt.steps, &incident.Incident{Comments: tt.comments})
			if s.Result != tt.result || s.complete != tt.complete || (s.Result == Planned) != (s.text != "") {
				t.Fatalf("%+v", s)
			}
			if tt.text != "" && s.text != tt.text {
				t.Errorf("comment:\n%s\nwant:\n%s", s.text, tt.text)
			}
		})
	}
	one := correctionText(Plan{Rule: "r", Records: []uint64{5}, Comments: []string{"x"}}, nil)
	if !strings.HasSuffix(one, "Its comment on this incident no longer applies. (audit record #5)") {
		t.Errorf("one record, one comment: %s", one)
	}
}
