package actions

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// BlockFileHash blocks file hashes across Defender: one indicator per distinct
// hash, once per tenant. The worker writes it with Defender for Endpoint's
// indicators API by default, or with the legacy beta securityActions.
type BlockFileHash struct{}

// The defaults of block_file_hash's mode and severity.
const (
	DefaultIndicatorMode     = "BlockAndRemediate"
	DefaultIndicatorSeverity = "High"
)

// Spec implements Action.
func (BlockFileHash) Spec() Spec {
	return Spec{
		Name: "block_file_hash",
		Doc: "Block file hashes across Defender with one indicator per distinct hash, once per tenant: " +
			"POST {defender}/api/indicators (Defender for Endpoint's indicators API, the default backend), " +
			"or POST /beta/security/securityActions (the legacy backend, retired by Microsoft).",
		Params: []Param{
			{Name: "hashes", Kind: StringList, Required: true, Item: checkHash,
				Doc: "SHA-256, SHA-1 or MD5 hex hashes; a list or a template such as {{ fileHashes(incident) }}"},
			{Name: "reason", Kind: String, NonEmpty: true, Doc: "the indicator's description; default names the rule and the incident"},
			{Name: "mode", Kind: String, NonEmpty: true, Enum: IndicatorModes(),
				Doc: "the indicator action: BlockAndRemediate (default), Block, AlertAndBlock, Audit or Alert"},
			{Name: "severity", Kind: String, NonEmpty: true, Enum: IndicatorSeverities(),
				Doc: "the indicator severity: Informational, Low, Medium or High (default)"},
			{Name: "expires", Kind: String, NonEmpty: true, Item: checkExpires, Pattern: expiresPattern,
				Doc: "when the indicator expires: a duration from the block (720h; 1m to 10 years), an RFC 3339 time or a date (2027-01-01); default never"},
			{Name: "rbacGroupNames", Kind: StringList, NonEmpty: true, NonEmptyRendered: true, Item: checkGroupName,
				Doc: "device group names the indicator applies to; default every device"},
		},
		Example: "block_file_hash: { hashes: \"{{ fileHashes(incident) }}\", reason: Known ransomware, mode: BlockAndRemediate, expires: 720h }",
	}
}

// checkHash accepts a hex MD5, SHA-1 or SHA-256 hash in either case.
func checkHash(s string) error {
	switch len(s) {
	case 32, 40, 64:
	default:
		return fmt.Errorf("%q is not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)", s)
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return fmt.Errorf("%q is not a hex hash", s)
		}
	}
	return nil
}

// checkGroupName rejects a padded device group name ("" is NonEmpty's).
func checkGroupName(s string) error {
	if strings.TrimSpace(s) != s {
		return fmt.Errorf("device group name %q has leading or trailing spaces", s)
	}
	return nil
}

// Effects implements Effector: one block per distinct hash (lower-cased),
// with mode and severity at their defaults when not given.
func (BlockFileHash) Effects(t Target, rule string, p Params) []Effect {
	reason := p.String("reason")
	if reason == "" {
		reason = "Blocked by graphsoar rule " + rule + " (incident " + t.IncidentID + ")"
	}
	mode := cmp.Or(p.String("mode"), DefaultIndicatorMode)
	severity := cmp.Or(p.String("severity"), DefaultIndicatorSeverity)
	seen := map[string]bool{}
	var out []Effect
	for _, h := range p.List("hashes") {
		h = strings.ToLower(h)
		if seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, Effect{
			Action:         "block_file_hash",
			Rule:           rule,
			Key:            blockKey(t, h),
			Hash:           h,
			Reason:         reason,
			Mode:           mode,
			Severity:       severity,
			Expires:        p.String("expires"),
			RBACGroupNames: slices.Clone(p.List("rbacGroupNames")),
		})
	}
	return out
}
