package broker_test

import (
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/broker"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, subject, key string }{
		{"3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71", "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71", "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"},
		{"4211", "4211", "4211"},
		{"a.b*c>d e", "a_b_c_d_e", "h"},
		{"", "", "h"},
		{strings.Repeat("x", 65), strings.Repeat("x", 65), "h"},
	}
	for _, tt := range tests {
		if got := broker.SubjectToken(tt.in); got != tt.subject {
			t.Errorf("SubjectToken(%q) = %q, want %q", tt.in, got, tt.subject)
		}
		got := broker.KeyToken(tt.in)
		if tt.key == "h" {
			if len(got) != 25 || got[0] != 'h' || got == broker.KeyToken(tt.in+"x") {
				t.Errorf("KeyToken(%q) = %q, want a distinct hash token", tt.in, got)
			}
		} else if got != tt.key {
			t.Errorf("KeyToken(%q) = %q, want %q", tt.in, got, tt.key)
		}
	}
}
