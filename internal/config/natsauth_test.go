package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/broker/authtest"
	"github.com/graphsoar/graphsoar/internal/config"
)

// TestNATSAuthConfig: the nats keys of the contract load into a
// broker.Auth, the password from a variable, and Validate refuses what does
// not fit together or cannot be read, with an error that names the key and
// never the password.
func TestNATSAuthConfig(t *testing.T) {
	t.Parallel()
	pki := authtest.NewPKI(t)
	seed, _ := authtest.NewUserSeed(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const password = "pa55-from-the-environment"
	env := func(k string) string {
		if k == "NATS_PASSWORD" {
			return password
		}
		return ""
	}
	base := "rules: r\ngraph: {default: {auth: none}}\nnats:\n"
	const url = "  url: nats://a:4222,nats://b:4222\n"
	tests := []struct {
		name  string
		nats  string // more keys under nats:
		want  string // the Validate error; "" for valid
		check func(a broker.Auth) bool
	}{
		{"user and password", "  user: worker\n  password: ${NATS_PASSWORD}\n  tls: {ca: " + pki.CA + ", cert: " + pki.ClientCert + ", key: " + pki.ClientKey + "}\n", "",
			func(a broker.Auth) bool {
				return a.User == "worker" && a.Password.Reveal() == password &&
					a.TLS == broker.TLS{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}
			}},
		{"password file", "  user: worker\n  passwordFile: " + pwFile + "\n", "", func(a broker.Auth) bool { return a.PasswordFile == pwFile }},
		{"nkey", "  nkeySeedFile: " + seed + "\n", "", func(a broker.Auth) bool { return a.NkeySeedFile == seed }},
		{"user without password", "  user: worker\n", "nats: user worker has no password", nil},
		{"cert without key", "  tls: {cert: " + pki.ClientCert + "}\n", "nats: tls.cert " + pki.ClientCert + " without tls.key", nil},
		{"unreadable CA", "  tls: {ca: /nonexistent/ca.pem}\n", "nats: tls.ca: open /nonexistent/ca.pem", nil},
		{"unreadable seed", "  nkeySeedFile: /nonexistent/user.nk\n", "nats: nkeySeedFile: open /nonexistent/user.nk", nil},
		{"two credentials", "  user: worker\n  password: ${NATS_PASSWORD}\n  nkeySeedFile: " + seed + "\n", "nats: give one NATS credential", nil},
		{"TLS without a url", "  tls: {ca: " + pki.CA + "}\n", "the embedded server has no TLS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := base + url + tt.nats
			if tt.name == "TLS without a url" {
				doc = base + tt.nats
			}
			cfg, err := config.Load(write(t, doc), env)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tt.check(cfg.NATS.Auth()) {
					t.Errorf("auth %#v", cfg.NATS.Auth())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}
