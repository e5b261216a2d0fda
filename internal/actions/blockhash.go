package actions

import (
	"fmt"
	"strings"
)

// BlockFileHash blocks file hashes through Graph security actions: one action
// per distinct hash, once per tenant.
type BlockFileHash struct{}

// Spec implements Action.
func (BlockFileHash) Spec() Spec {
	return Spec{
		Name: "block_file_hash",
		Doc:  "Block file hashes tenant-wide (POST /beta/security/securityActions, one per distinct hash, once per tenant).",
		Params: []Param{
			{Name: "hashes", Kind: StringList, Required: true, Item: checkHash,
				Doc: "SHA-256, SHA-1 or MD5 hex hashes; a list or a template such as {{ fileHashes(incident) }}"},
			{Name: "reason", Kind: String, NonEmpty: true, Doc: "the action reason; default names the rule"},
		},
		Example: "block_file_hash: { hashes: \"{{ fileHashes(incident) }}\", reason: Known ransomware }",
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

// Effects implements Effector: one block per distinct hash (lower-cased).
func (BlockFileHash) Effects(t Target, rule string, p Params) []Effect {
	reason := p.String("reason")
	if reason == "" {
		reason = "Blocked by graphsoar rule " + rule + " (incident " + t.IncidentID + ")"
	}
	seen := map[string]bool{}
	var out []Effect
	for _, h := range p.List("hashes") {
		h = strings.ToLower(h)
		if seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, Effect{
			Action: "block_file_hash",
			Rule:   rule,
			Key:    blockKey(t, h),
			Hash:   h,
			Reason: reason,
		})
	}
	return out
}
