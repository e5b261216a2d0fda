package actions_test

import (
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/incident"
)

// BlockEffectKey is the key the worker claims a block under, so that undo
// can clear it: the key of block_file_hash's effect for any incident or rule
// of the tenant.
func TestBlockEffectKeyIsTheBlocksKey(t *testing.T) {
	t.Parallel()
	b, _ := actions.Builtin().Lookup("block_file_hash")
	h := strings.Repeat("cd", 32)
	for _, tgt := range []actions.Target{{Tenant: "t1", IncidentID: "1"}, {Tenant: "t1", IncidentID: "2"}, {Tenant: "t2", IncidentID: "1"}} {
		effs := b.(actions.Effector).Effects(tgt, "r", actions.Params{"hashes": []string{strings.ToUpper(h)}})
		if len(effs) != 1 || effs[0].Key != actions.BlockEffectKey(tgt.Tenant, h) {
			t.Errorf("%+v: effect key %+v, BlockEffectKey %s", tgt, effs, actions.BlockEffectKey(tgt.Tenant, h))
		}
	}
	if actions.BlockEffectKey("t1", strings.ToUpper(h)) != actions.BlockEffectKey("t1", h) {
		t.Error("the key must not depend on the hash's case")
	}
	if actions.BlockEffectKey("t1", h) == actions.BlockEffectKey("t2", h) || actions.BlockEffectKey("t1", h) == actions.BlockEffectKey("t1", strings.Repeat("ef", 32)) {
		t.Error("the key must depend on the tenant and the hash")
	}
}

func TestFieldOf(t *testing.T) {
	t.Parallel()
	inc := &incident.Incident{Status: "active", Classification: "truePositive", Determination: "malware", AssignedTo: "tier2", CustomTags: []string{"x"}}
	for f, want := range map[actions.Field]string{
		actions.FieldStatus: "active", actions.FieldClassification: "truePositive", actions.FieldDetermination: "malware",
		actions.FieldAssignedTo: "tier2", actions.FieldCustomTags: "", actions.Field("severity"): "",
	} {
		if got := f.Of(inc); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
}
