package actions

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Target names the incident an action runs for.
type Target struct {
	Tenant     string
	IncidentID string
}

// Effect is one non-idempotent write an Effector asks for.
type Effect struct {
	Action string // "comment" or "block_file_hash"
	Rule   string
	// Key identifies the write for the idempotency store: equal keys mean the same
	// write, which must happen once. It is safe as a NATS KV key.
	Key     string
	Comment string // comment: the text
	Hash    string // block_file_hash: the lower-case hash
	Reason  string // block_file_hash: the action reason (the indicator's description)
	// Mode is block_file_hash's indicator action: BlockAndRemediate (the
	// default, filled in), Block, AlertAndBlock, Audit or Alert.
	Mode string
	// Severity is block_file_hash's indicator severity: Informational, Low,
	// Medium or High (the default, filled in).
	Severity string
	// Expires is block_file_hash's expires as the rule said it (a duration
	// such as 720h, an RFC 3339 time or a date), or "" for never; see
	// ExpirationTime.
	Expires string
	// RBACGroupNames limits block_file_hash's indicator to these device
	// groups; nil for every device.
	RBACGroupNames []string
}

// commentKey: the same text from the same rule, once per incident.
func commentKey(t Target, rule, text string) string {
	return "comment." + digest(t.Tenant, t.IncidentID, rule, text)
}

// blockKey: a hash, once per tenant.
func blockKey(t Target, hash string) string { return BlockEffectKey(t.Tenant, hash) }

// BlockEffectKey is the Effect.Key of blocking hash (in any case) in
// tenant: a hash is blocked once per tenant, whatever rule or incident asks,
// so they all share this key.
func BlockEffectKey(tenant, hash string) string {
	return "block." + digest(tenant, strings.ToLower(hash))
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}
