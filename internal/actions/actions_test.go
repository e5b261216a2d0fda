package actions_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

func TestBuiltinRegistry(t *testing.T) {
	t.Parallel()
	reg := actions.Builtin()
	want := []string{"assign", "block_file_hash", "classify", "comment", "set_status", "tag"}
	if got := reg.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		a, ok := reg.Lookup(name)
		if !ok {
			t.Fatalf("Lookup(%q) failed", name)
		}
		_, patch := a.(actions.Patcher)
		_, effect := a.(actions.Effector)
		if patch == effect {
			t.Errorf("%s: Patcher %v, Effector %v; want exactly one", name, patch, effect)
		}
	}
	if _, ok := reg.Lookup("close"); ok {
		t.Error("Lookup(close) succeeded")
	}
}

func TestNewRegistryRejects(t *testing.T) {
	t.Parallel()
	if _, err := actions.NewRegistry(actions.Tag{}, actions.Tag{}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := actions.NewRegistry(specOnly{}); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Errorf("neither kind: %v", err)
	}
}

type specOnly struct{}

func (specOnly) Spec() actions.Spec { return actions.Spec{Name: "x"} }

func TestSpecCheck(t *testing.T) {
	t.Parallel()
	reg := actions.Builtin()
	spec := func(name string) actions.Spec {
		a, _ := reg.Lookup(name)
		return a.Spec()
	}
	sha256 := strings.Repeat("ab", 32)
	tests := []struct {
		action string
		params actions.Params
		want   string // "" for valid, else a substring of the error
	}{
		{"classify", actions.Params{"classification": "truePositive", "determination": "malware"}, ""},
		{"classify", actions.Params{"classification": "truePositive"}, ""},
		{"classify", actions.Params{"classification": "TruePositive"}, `"TruePositive" is not one of unknown, falsePositive, truePositive, informationalExpectedActivity (did you mean "truePositive"?)`},
		{"classify", actions.Params{"determination": "malware"}, "classification: missing"},
		{"classify", actions.Params{"classification": "truePositive", "determination": "malwre"}, `did you mean "malware"?`},
		{"set_status", actions.Params{"status": "resolved"}, ""},
		{"set_status", actions.Params{"status": "redirected"}, `"redirected" is not one of active, inProgress, resolved`},
		{"set_status", actions.Params{"status": ""}, "status: empty"},
		{"assign", actions.Params{"assignedTo": ""}, ""},
		{"assign", actions.Params{"assignedTo": "tier2@contoso.com"}, ""},
		{"tag", actions.Params{"tags": []string{"a", "b"}}, ""},
		{"tag", actions.Params{"tags": []string{}}, "tags: empty list"},
		{"tag", actions.Params{"tags": []string{" a"}}, "leading or trailing spaces"},
		{"tag", actions.Params{"tags": "a"}, "want a list of strings"},
		{"comment", actions.Params{"comment": "hello"}, ""},
		{"comment", actions.Params{"comment": ""}, "comment: empty"},
		{"comment", actions.Params{"comment": strings.Repeat("x", 30001)}, "longer than 30000"},
		{"comment", actions.Params{"comment": "x", "text": "y"}, "text: unknown parameter"},
		{"block_file_hash", actions.Params{"hashes": []string{sha256, strings.ToUpper(sha256[:40]), sha256[:32]}}, ""},
		{"block_file_hash", actions.Params{"hashes": []string{"abc"}}, "is not an MD5, SHA-1 or SHA-256 hash"},
		{"block_file_hash", actions.Params{"hashes": []string{strings.Repeat("zz", 32)}}, "is not a hex hash"},
		{"block_file_hash", actions.Params{"hashes": []string{}}, "hashes: empty list"},
		{"block_file_hash", actions.Params{"hashes": []string{sha256}, "reason": ""}, "reason: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+tt.want, func(t *testing.T) {
			t.Parallel()
			err := spec(tt.action).Check(tt.params)
			if strings.HasSuffix(tt.want, "empty list") {
				// Rendered from a template, an empty list is nothing to do.
				if err := spec(tt.action).CheckRendered(tt.params); err != nil {
					t.Errorf("CheckRendered: %v", err)
				}
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func desire(t *testing.T, steps ...any) *actions.Desired {
	t.Helper()
	reg := actions.Builtin()
	d := &actions.Desired{}
	for i := 0; i+2 < len(steps)+1; i += 3 {
		a, _ := reg.Lookup(steps[i].(string))
		a.(actions.Patcher).Desire(d, steps[i+1].(string), steps[i+2].(actions.Params))
	}
	return d
}

func TestDesiredDiff(t *testing.T) {
	t.Parallel()
	cur := &incident.Incident{ID: "1", Status: "active", Classification: "unknown", Determination: "unknown", AssignedTo: "", CustomTags: []string{"analyst-tag"}}
	d := desire(t,
		"classify", "r1", actions.Params{"classification": "truePositive", "determination": "malware"},
		"set_status", "r1", actions.Params{"status": "active"},
		"tag", "r2", actions.Params{"tags": []string{"analyst-tag", "auto"}},
		"assign", "r3", actions.Params{"assignedTo": "tier2@contoso.com"},
	)
	p := d.Diff(cur)
	if p.Status != nil {
		t.Errorf("status unchanged but patched to %q", *p.Status)
	}
	if p.Classification == nil || *p.Classification != "truePositive" || p.Determination == nil || *p.Determination != "malware" {
		t.Errorf("classification/determination not patched: %+v", p)
	}
	if p.AssignedTo == nil || *p.AssignedTo != "tier2@contoso.com" {
		t.Errorf("assignedTo: %+v", p.AssignedTo)
	}
	if !slices.Equal(p.CustomTags, []string{"analyst-tag", "auto"}) {
		t.Errorf("customTags %v: analysts' tags must be kept and ours appended", p.CustomTags)
	}
	if got := p.Fields(); !slices.Equal(got, []actions.Field{"classification", "determination", "assignedTo", "customTags"}) {
		t.Errorf("Fields() = %v", got)
	}
	if d.Rule(actions.FieldCustomTags) != "r2" || d.Rule(actions.FieldAssignedTo) != "r3" {
		t.Error("rule provenance lost")
	}
}

func TestDesiredDiffEmptyWhenInDesiredState(t *testing.T) {
	t.Parallel()
	// Our own PATCH comes back as an updated event; re-evaluating it must
	// produce no write.
	cur := &incident.Incident{ID: "1", Status: "resolved", Classification: "informationalExpectedActivity", Determination: "securityTesting", CustomTags: []string{"x", "red-team"}}
	d := desire(t,
		"classify", "r", actions.Params{"classification": "informationalExpectedActivity", "determination": "securityTesting"},
		"set_status", "r", actions.Params{"status": "resolved"},
		"tag", "r", actions.Params{"tags": []string{"red-team"}},
	)
	if p := d.Diff(cur); !p.Empty() {
		t.Errorf("Diff = %+v, want empty", p)
	}
	if p := (&actions.Desired{}).Diff(cur); !p.Empty() {
		t.Errorf("empty desired state: Diff = %+v", p)
	}
}

func TestDesiredConflictsLaterRuleWins(t *testing.T) {
	t.Parallel()
	d := desire(t,
		"set_status", "early", actions.Params{"status": "inProgress"},
		"set_status", "late", actions.Params{"status": "resolved"},
	)
	if v, _ := d.Value(actions.FieldStatus); v != "resolved" {
		t.Errorf("status %q, want the later rule's", v)
	}
	if len(d.Conflicts) != 1 || d.Conflicts[0].Rule != "late" || d.Conflicts[0].Previous != "early" || d.Conflicts[0].Was != "inProgress" {
		t.Errorf("Conflicts = %+v", d.Conflicts)
	}
}

func TestEffectsAndKeys(t *testing.T) {
	t.Parallel()
	reg := actions.Builtin()
	tgt := actions.Target{Tenant: "t1", IncidentID: "42"}
	c, _ := reg.Lookup("comment")
	e1 := c.(actions.Effector).Effects(tgt, "r1", actions.Params{"comment": "hello"})
	e2 := c.(actions.Effector).Effects(tgt, "r1", actions.Params{"comment": "hello"})
	e3 := c.(actions.Effector).Effects(tgt, "r2", actions.Params{"comment": "hello"})
	e4 := c.(actions.Effector).Effects(actions.Target{Tenant: "t1", IncidentID: "43"}, "r1", actions.Params{"comment": "hello"})
	if len(e1) != 1 || e1[0].Key != e2[0].Key {
		t.Error("the same comment from the same rule must have one key")
	}
	if e1[0].Key == e3[0].Key || e1[0].Key == e4[0].Key {
		t.Error("another rule or incident must have another key")
	}
	b, _ := reg.Lookup("block_file_hash")
	h := strings.Repeat("ab", 32)
	blocks := b.(actions.Effector).Effects(tgt, "r1", actions.Params{"hashes": []string{h, strings.ToUpper(h)}})
	if len(blocks) != 1 || blocks[0].Hash != h || !strings.Contains(blocks[0].Reason, "r1") {
		t.Fatalf("blocks = %+v, want one lower-case block with a default reason", blocks)
	}
	other := b.(actions.Effector).Effects(actions.Target{Tenant: "t1", IncidentID: "99"}, "r9", actions.Params{"hashes": []string{h}, "reason": "x"})
	if other[0].Key != blocks[0].Key {
		t.Error("a hash is blocked once per tenant: the key must not depend on incident or rule")
	}
	otherTenant := b.(actions.Effector).Effects(actions.Target{Tenant: "t2", IncidentID: "42"}, "r1", actions.Params{"hashes": []string{h}})
	if otherTenant[0].Key == blocks[0].Key {
		t.Error("another tenant must have another key")
	}
	for _, k := range []string{e1[0].Key, blocks[0].Key} {
		for _, r := range k {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyz0123456789.-_", r) {
				t.Errorf("key %q has %q, not valid in a NATS KV key", k, r)
			}
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	cands := []string{"classify", "set_status", "assign", "tag", "comment", "block_file_hash"}
	for got, want := range map[string]string{"clasify": "classify", "SET_STATUS": "set_status", "coment": "comment", "xyz": ""} {
		if m := actions.Closest(got, cands); m != want {
			t.Errorf("Closest(%q) = %q, want %q", got, m, want)
		}
	}
}

func TestOperations(t *testing.T) {
	t.Parallel()
	reg := actions.Builtin()
	h := strings.Repeat("cd", 32)
	ops, err := reg.Operations(actions.Target{Tenant: "t", IncidentID: "1"}, []actions.Planned{
		{Rule: "a", Type: "set_status", Params: actions.Params{"status": "resolved"}},
		{Rule: "a", Type: "comment", Params: actions.Params{"comment": "hi"}},
		{Rule: "b", Type: "tag", Params: actions.Params{"tags": []string{"x"}}},
		{Rule: "b", Type: "block_file_hash", Params: actions.Params{"hashes": []string{h}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ops.Desired.Value(actions.FieldStatus); v != "resolved" || !slices.Equal(ops.Desired.Tags(), []string{"x"}) {
		t.Errorf("desired state: %+v", ops.Desired)
	}
	if len(ops.Effects) != 2 || ops.Effects[0].Action != "comment" || ops.Effects[1].Hash != h {
		t.Errorf("effects: %+v", ops.Effects)
	}
	if _, err := reg.Operations(actions.Target{}, []actions.Planned{{Rule: "x", Type: "nope"}}); err == nil {
		t.Error("unknown action accepted")
	}
	if f := reg.Fields(actions.Planned{Type: "classify", Params: actions.Params{"classification": "truePositive", "determination": "malware"}}); !slices.Equal(f, []actions.Field{"classification", "determination"}) {
		t.Errorf("Fields(classify) = %v", f)
	}
	if f := reg.Fields(actions.Planned{Type: "comment", Params: actions.Params{"comment": "x"}}); f != nil {
		t.Errorf("Fields(comment) = %v", f)
	}
}
