package config_test

import (
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/config"
)

// TestPlainHTTPRefused: an http:// Graph or Defender URL is refused whenever
// a tenant credential or the default one is real, naming the URL and the
// credential and never the secret; with auth none everywhere (the emulator)
// it stays allowed.
func TestPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	const secret = "client-secret-never-shown"
	env := func(k string) string {
		if k == "SECRET" {
			return secret
		}
		return ""
	}
	tenant := "  tenants:\n    t1: {auth: secret, clientId: app, clientSecret: \"${SECRET}\"}\n"
	tests := []struct {
		name, doc, want string
	}{
		{"emulator", "graph:\n  url: http://127.0.0.1:8081\n  default: {auth: none, token: \"${SECRET}\"}\ndefender: {url: http://127.0.0.1:8081}\n", ""},
		{"tenants at none", "graph:\n  url: http://emulator:8081\n  tenants:\n    t1: {auth: none}\n    t2: {auth: none}\n", ""},
		{"https with a secret", "graph:\n  url: https://graph.microsoft.com\n" + tenant, ""},
		{"http graph with a tenant secret", "graph:\n  url: http://graph.example\n" + tenant,
			"graph.url http://graph.example: plain http with a real credential (tenant t1, auth secret)"},
		{"http defender with a tenant secret", "graph:\n" + tenant + "defender: {url: http://defender.example:8080}\n",
			"defender.url http://defender.example:8080: plain http with a real credential (tenant t1, auth secret)"},
		{"one real tenant among emulated ones", "graph:\n  url: http://emulator\n  tenants:\n    a: {auth: none}\n    b: {auth: managed}\n",
			"(tenant b, auth managed)"},
		{"http with the default chain", "graph:\n  url: HTTP://graph.example\n  default: {auth: default}\n",
			"plain http with a real credential (the default credential, auth default)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Load(write(t, "rules: r\n"+tt.doc), env)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want == "":
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %v, want %q", err, tt.want)
			case strings.Contains(err.Error(), secret):
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}
