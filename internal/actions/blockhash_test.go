package actions_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/actions"
)

func blockSpec(t *testing.T) actions.Spec {
	t.Helper()
	a, ok := actions.Builtin().Lookup("block_file_hash")
	if !ok {
		t.Fatal("no block_file_hash")
	}
	return a.Spec()
}

func TestBlockFileHashParams(t *testing.T) {
	t.Parallel()
	h := []string{strings.Repeat("ab", 32)}
	with := func(name string, v any) actions.Params { return actions.Params{"hashes": h, name: v} }
	tests := []struct {
		name     string
		params   actions.Params
		want     string // exact error, "" for valid
		rendered string // exact CheckRendered error when it differs from want
	}{
		{"every mode", with("mode", "BlockAndRemediate"), "", ""},
		{"Block", with("mode", "Block"), "", ""},
		{"AlertAndBlock", with("mode", "AlertAndBlock"), "", ""},
		{"Audit", with("mode", "Audit"), "", ""},
		{"Alert", with("mode", "Alert"), "", ""},
		{"mode near miss", with("mode", "Blok"), `mode: "Blok" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert (did you mean "Block"?)`, ""},
		{"mode in the wrong case", with("mode", "audit"), `mode: "audit" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert (did you mean "Audit"?)`, ""},
		{"mode Warn is not a block", with("mode", "Allowed"), `mode: "Allowed" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert`, ""},
		{"mode empty", with("mode", ""), "mode: empty", ""},
		{"severity", with("severity", "Informational"), "", ""},
		{"severity as Graph spells incidents'", with("severity", "high"), `severity: "high" is not one of Informational, Low, Medium, High (did you mean "High"?)`, ""},
		{"expires duration", with("expires", "720h"), "", ""},
		{"expires one minute", with("expires", "1m"), "", ""},
		{"expires ten years", with("expires", "87600h"), "", ""},
		{"expires RFC 3339", with("expires", "2027-01-01T00:00:00Z"), "", ""},
		{"expires RFC 3339 with offset", with("expires", "2027-01-01T09:30:00+02:00"), "", ""},
		{"expires date", with("expires", "2027-01-01"), "", ""},
		{"expires in days", with("expires", "30d"), `expires: "30d" is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01 (a duration has no d unit: write 720h for 30 days)`, ""},
		{"expires nonsense", with("expires", "next month"), `expires: "next month" is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01`, ""},
		{"expires zero", with("expires", "0s"), `expires: duration "0s" is not positive`, ""},
		{"expires negative", with("expires", "-24h"), `expires: duration "-24h" is not positive`, ""},
		{"expires too short", with("expires", "30s"), `expires: duration "30s" is shorter than 1m`, ""},
		{"expires too long", with("expires", "87601h"), `expires: duration "87601h" is longer than 10 years (87600h)`, ""},
		{"expires empty", with("expires", ""), "expires: empty", ""},
		{"groups", with("rbacGroupNames", []string{"Finance", "Tier 0 servers"}), "", ""},
		{"groups empty list", with("rbacGroupNames", []string{}), "rbacGroupNames: empty list", "rbacGroupNames: empty list"},
		{"group empty", with("rbacGroupNames", []string{"Finance", ""}), "rbacGroupNames: empty", ""},
		{"group padded", with("rbacGroupNames", []string{" Finance"}), `rbacGroupNames: device group name " Finance" has leading or trailing spaces`, ""},
		{"groups not a list", with("rbacGroupNames", "Finance"), "rbacGroupNames: want a list of strings, got string", ""},
		{"hashes rendered empty", actions.Params{"hashes": []string{}}, "hashes: empty list", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := blockSpec(t)
			for _, c := range []struct {
				check func(actions.Params) error
				want  string
			}{{spec.Check, tt.want}, {spec.CheckRendered, tt.rendered}} {
				want := c.want
				if want == "" {
					want = tt.want
				}
				if want == "-" {
					want = "" // valid when rendered: nothing to do
				}
				err := c.check(tt.params)
				if got := errString(err); got != want {
					t.Errorf("error %q, want %q", got, want)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestBlockFileHashEffects(t *testing.T) {
	t.Parallel()
	a, _ := actions.Builtin().Lookup("block_file_hash")
	b := a.(actions.Effector)
	tgt := actions.Target{Tenant: "t1", IncidentID: "42"}
	h1, h2 := strings.Repeat("ab", 32), strings.Repeat("cd", 20)
	groups := []string{"Finance", "HR"}
	effs := b.Effects(tgt, "r1", actions.Params{
		"hashes": []string{h1, strings.ToUpper(h2)}, "reason": "bad", "mode": "Audit",
		"severity": "Low", "expires": "720h", "rbacGroupNames": groups,
	})
	if len(effs) != 2 {
		t.Fatalf("effects %+v, want 2", effs)
	}
	for i, e := range effs {
		if e.Hash != []string{h1, h2}[i] || e.Reason != "bad" || e.Mode != "Audit" || e.Severity != "Low" ||
			e.Expires != "720h" || !slices.Equal(e.RBACGroupNames, groups) {
			t.Errorf("effect %d = %+v", i, e)
		}
	}
	groups[0] = "changed"
	effs[0].RBACGroupNames[1] = "changed too"
	if effs[0].RBACGroupNames[0] != "Finance" || effs[1].RBACGroupNames[1] != "HR" {
		t.Error("an effect's device groups must be its own copy")
	}

	plain := b.Effects(tgt, "r1", actions.Params{"hashes": []string{h1}})
	if e := plain[0]; e.Mode != "BlockAndRemediate" || e.Severity != "High" || e.Expires != "" || e.RBACGroupNames != nil {
		t.Errorf("defaults: %+v, want BlockAndRemediate, High, no expiry, every device", e)
	}
	if e := plain[0]; e.Mode != actions.DefaultIndicatorMode || e.Severity != actions.DefaultIndicatorSeverity {
		t.Errorf("defaults %q %q differ from the exported constants", e.Mode, e.Severity)
	}
	// The options of a block do not make it another block: one indicator per
	// hash per tenant.
	if plain[0].Key != effs[0].Key {
		t.Error("the key must depend on tenant and hash only")
	}
}

func TestEffectExpirationTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		expires string
		want    time.Time
		ok      bool
	}{
		{"", time.Time{}, false},
		{"720h", now.Add(720 * time.Hour), true},
		{"90m", now.Add(90 * time.Minute), true},
		{"2027-01-01", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2027-01-01T09:30:00+02:00", time.Date(2027, 1, 1, 7, 30, 0, 0, time.UTC), true},
		{"30d", time.Time{}, false}, // never valid; a rule set never carries it
	}
	for _, tt := range tests {
		got, ok := actions.Effect{Action: "block_file_hash", Expires: tt.expires}.ExpirationTime(now)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ExpirationTime(%q) = %v, %v; want %v, %v", tt.expires, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBlockFileHashSpecDocumentsIndicators(t *testing.T) {
	t.Parallel()
	spec := blockSpec(t)
	if !strings.Contains(spec.Doc, "POST {defender}/api/indicators") || !strings.Contains(spec.Doc, "securityActions") {
		t.Errorf("Doc %q must name the indicators API as the default and securityActions as the legacy backend", spec.Doc)
	}
	for _, name := range []string{"hashes", "reason", "mode", "severity", "expires", "rbacGroupNames"} {
		p, ok := spec.Param(name)
		if !ok || p.Doc == "" {
			t.Errorf("parameter %s missing or undocumented", name)
		}
	}
	if !strings.Contains(spec.Example, "mode: BlockAndRemediate") || !strings.Contains(spec.Example, "expires: 720h") {
		t.Errorf("Example %q", spec.Example)
	}
	var pe *actions.ParamError
	if errors.As(spec.Check(actions.Params{"hashes": []string{"x"}}), &pe) {
		t.Error("a single parameter's error is not a *ParamError")
	}
}
