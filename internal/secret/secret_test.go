package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/secret"
)

// TestSecretNeverPrinted: every way of printing a Secret shows [REDACTED],
// an empty one shows nothing, and Reveal returns the value.
func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	s := secret.Secret("hunter2-value")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "s", s)
	js, err := json.Marshal(struct{ S secret.Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%#v": fmt.Sprintf("%#v", s),
		"json": string(js), "slog": logs.String(),
	} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, secret.Redacted) {
			t.Errorf("%s printed %q", name, out)
		}
	}
	if got := secret.Secret("").String(); got != "" {
		t.Errorf("empty secret printed %q", got)
	}
	if got := s.Reveal(); got != "hunter2-value" {
		t.Errorf("Reveal = %q", got)
	}
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	s := secret.NewScrubber("long-password", "abc", "u:p@")
	tests := []struct{ in, want string }{
		{"dial with long-password refused", "dial with [REDACTED] refused"},
		{"abc is too short to scrub", "abc is too short to scrub"},
		{"nats://u:p@host", "nats://[REDACTED]host"},
		{"nothing secret", "nothing secret"},
	}
	for _, tt := range tests {
		if got := s.Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	err := s.Err(fmt.Errorf("open long-password: %w", fs.ErrNotExist))
	if strings.Contains(err.Error(), "long-password") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Err = %v (chain kept: %t)", err, errors.Is(err, fs.ErrNotExist))
	}
	plain := errors.New("plain")
	if s.Err(plain) != plain || s.Err(nil) != nil {
		t.Error("Err changed an error with no secret in it")
	}
	if got := (secret.Scrubber{}).Text("long-password"); got != "long-password" {
		t.Errorf("zero Scrubber changed %q", got)
	}
}
