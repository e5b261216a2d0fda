package broker_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/broker/authtest"
)

// TestAuthValidate: each mistake is refused with an error that names the
// field (or its flag) and the file, and never a file's content.
func TestAuthValidate(t *testing.T) {
	t.Parallel()
	pki := authtest.NewPKI(t)
	seed, _ := authtest.NewUserSeed(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const garbage = "not-a-seed-but-maybe-a-secret"
	garbageFile := file("garbage", garbage)
	empty := file("empty", "\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name string
		auth broker.Auth
		want string // "" for valid
	}{
		{"nothing", broker.Auth{}, ""},
		{"user and password", broker.Auth{User: "u", Password: "pw"}, ""},
		{"nkey", broker.Auth{NkeySeedFile: seed}, ""},
		{"mutual TLS", broker.Auth{TLS: broker.TLS{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}}, ""},
		{"CA only", broker.Auth{TLS: broker.TLS{CA: pki.CA}}, ""},

		{"user without password", broker.Auth{User: "u"}, "user u has no password: set GRAPHSOAR_NATS_PASSWORD"},
		{"password without user", broker.Auth{Password: "pw"}, "a password without a user"},
		{"password and file", broker.Auth{User: "u", Password: "pw", PasswordFile: garbageFile}, "password and passwordFile are both set"},
		{"two credentials", broker.Auth{User: "u", Password: "pw", NkeySeedFile: seed}, "give one NATS credential"},
		{"cert without key", broker.Auth{TLS: broker.TLS{Cert: pki.ClientCert}}, "tls.cert " + pki.ClientCert + " without tls.key (--nats-tls-key)"},
		{"key without cert", broker.Auth{TLS: broker.TLS{Key: pki.ClientKey}}, "tls.key " + pki.ClientKey + " without tls.cert"},
		{"cert with the wrong key", broker.Auth{TLS: broker.TLS{Cert: pki.ClientCert, Key: pki.ServerKey}}, "private key does not match"},
		{"missing CA", broker.Auth{TLS: broker.TLS{CA: missing}}, "tls.ca: open " + missing + ": no such file"},
		{"CA not PEM", broker.Auth{TLS: broker.TLS{CA: garbageFile}}, "tls.ca " + garbageFile + ": no PEM certificate"},
		{"CA is a key", broker.Auth{TLS: broker.TLS{CA: pki.ClientKey}}, `PEM block "PRIVATE KEY" is not a certificate`},
		{"missing seed", broker.Auth{NkeySeedFile: missing}, "nkeySeedFile: open " + missing},
		{"garbage seed", broker.Auth{NkeySeedFile: garbageFile}, "nkeySeedFile " + garbageFile + ": no nkey seed"},
		{"missing creds", broker.Auth{Creds: missing}, "creds: open " + missing},
		{"garbage creds", broker.Auth{Creds: garbageFile}, "creds " + garbageFile + ": no user nkey seed"},
		{"seed as creds", broker.Auth{Creds: seed}, "creds " + seed + ": its JWT is not a user JWT"},
		{"missing password file", broker.Auth{User: "u", PasswordFile: missing}, "passwordFile: open " + missing},
		{"empty password file", broker.Auth{User: "u", PasswordFile: empty}, "passwordFile " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.auth.Validate()
			_, optErr := tt.auth.Options()
			if tt.want == "" {
				if err != nil || optErr != nil {
					t.Fatalf("Validate: %v, Options: %v", err, optErr)
				}
				return
			}
			if err == nil || optErr == nil {
				t.Fatalf("Validate: %v, Options: %v; want %q", err, optErr, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), garbage) || strings.Contains(err.Error(), "pw\"") {
				t.Errorf("error %q quotes a file's content or a password", err)
			}
		})
	}
}
