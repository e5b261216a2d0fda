package tracing

import (
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// Header is a propagation.TextMapCarrier over NATS message headers. NATS
// header names are case-sensitive while W3C's are lower case: Get also
// finds a name another producer spelt in another case (Traceparent, as an
// HTTP library canonicalises it), and Set replaces any such spelling.
type Header nats.Header

var _ propagation.TextMapCarrier = Header(nil)

// Get returns the first value of key, matched exactly or else ignoring case.
func (h Header) Get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// Set sets key to value, dropping the key's other spellings.
func (h Header) Set(key, value string) {
	for k := range h {
		if k != key && strings.EqualFold(k, key) {
			delete(h, k)
		}
	}
	h[key] = []string{value}
}

// Keys lists the header names.
func (h Header) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
