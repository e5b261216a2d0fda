package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SubjectToken makes a value safe as one subject token: the characters NATS
// gives a meaning to ('.', '*', '>') and white space become '_'.
func SubjectToken(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// KeyToken makes a value safe as one token of a key-value key: s itself when
// it is 1-64 letters, digits, '_' or '-' (tenant GUIDs, incident ids), else
// "h" and 24 hex digits of its SHA-256, which no such value collides with.
func KeyToken(s string) string {
	ok := s != "" && len(s) <= 64
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if ok {
		return s
	}
	h := sha256.Sum256([]byte(s))
	return "h" + hex.EncodeToString(h[:12])
}
