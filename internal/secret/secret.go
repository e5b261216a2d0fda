// Package secret holds the credential type that never prints its value and
// the scrubber that takes known secrets out of texts and errors, for every
// package that handles one (Graph credentials, NATS authentication).
package secret

import "log/slog"

// Redacted is what stands in a text where a secret was.
const Redacted = "[REDACTED]"

// Secret is a credential that must never be printed: String, GoString, the
// text and YAML encodings and slog all show [REDACTED] (or nothing when it
// is empty). Reveal returns the value, for the one place that sends it.
type Secret string

// String returns [REDACTED], or "" for an empty secret.
func (s Secret) String() string { return s.mask() }

// GoString returns [REDACTED], so %#v does not show the value either.
func (s Secret) GoString() string { return s.mask() }

// MarshalText writes [REDACTED]: JSON and text encodings never hold the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// UnmarshalText reads the value as it is.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }

// MarshalYAML writes [REDACTED].
func (s Secret) MarshalYAML() (any, error) { return s.mask(), nil }

// LogValue logs [REDACTED].
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// Reveal returns the value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return Redacted
}
