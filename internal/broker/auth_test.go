package broker_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/broker/authtest"
)

const (
	testUser     = "graphsoar-worker"
	testPassword = "s3cret-Pa55word-of-the-worker"
	badPassword  = "wrong-Pa55word-guessed"
)

// servers are the NATS servers of the connection tests: plain, TLS, mutual
// TLS (each with a password user and an nkey user), and operator mode.
type servers struct {
	pki, otherPKI          authtest.PKI
	plain, tls, mtls, op   string
	seed, otherSeed, creds string
	passwordFile           string
}

func startServers(t *testing.T) servers {
	t.Helper()
	var s servers
	s.pki, s.otherPKI = authtest.NewPKI(t), authtest.NewPKI(t)
	var pub string
	s.seed, pub = authtest.NewUserSeed(t)
	s.otherSeed, _ = authtest.NewUserSeed(t) // a user the servers do not know
	users := map[string]string{testUser: testPassword}
	s.plain = authtest.Start(t, authtest.Options{Users: users, Nkeys: []string{pub}})
	s.tls = authtest.Start(t, authtest.Options{PKI: &s.pki, Users: users, Nkeys: []string{pub}})
	s.mtls = authtest.Start(t, authtest.Options{PKI: &s.pki, VerifyClients: true, Users: users, Nkeys: []string{pub}})
	s.op, s.creds = authtest.StartOperator(t)
	s.passwordFile = filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(s.passwordFile, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// secretsOf are the values no error or log line may contain: the
// passwords and the nkey seeds (of the seed files and of the creds file).
func (s servers) secretsOf(t *testing.T) []string {
	out := []string{testPassword, badPassword}
	for _, f := range []string{s.seed, s.otherSeed, s.creds} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := nkeys.ParseDecoratedNKey(b)
		if err != nil {
			t.Fatal(err)
		}
		seed, err := kp.Seed()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(seed))
	}
	return out
}

// TestAuthConnects proves that each connection mode connects and publishes
// to JetStream, and that each wrong credential or certificate fails with a
// clear error that holds no secret.
func TestAuthConnects(t *testing.T) {
	t.Parallel()
	s := startServers(t)
	ca := broker.TLS{CA: s.pki.CA}
	mutual := broker.TLS{CA: s.pki.CA, Cert: s.pki.ClientCert, Key: s.pki.ClientKey}
	tests := []struct {
		name    string
		url     string
		auth    broker.Auth
		wantErr []string // substrings of the error; none: it connects
	}{
		{"password", s.plain, broker.Auth{User: testUser, Password: testPassword}, nil},
		{"password file", s.plain, broker.Auth{User: testUser, PasswordFile: s.passwordFile}, nil},
		{"nkey", s.plain, broker.Auth{NkeySeedFile: s.seed}, nil},
		{"creds", s.op, broker.Auth{Creds: s.creds}, nil},
		{"TLS and password", s.tls, broker.Auth{User: testUser, Password: testPassword, TLS: ca}, nil},
		{"TLS and nkey", s.tls, broker.Auth{NkeySeedFile: s.seed, TLS: ca}, nil},
		{"mutual TLS and password", s.mtls, broker.Auth{User: testUser, PasswordFile: s.passwordFile, TLS: mutual}, nil},
		{"mutual TLS and nkey", s.mtls, broker.Auth{NkeySeedFile: s.seed, TLS: mutual}, nil},

		{"wrong password", s.plain, broker.Auth{User: testUser, Password: badPassword},
			[]string{"(user " + testUser + ")", "Authorization Violation", "refused the credential"}},
		{"unknown user", s.tls, broker.Auth{User: "intruder", Password: testPassword, TLS: ca},
			[]string{"(user intruder, TLS", "Authorization Violation"}},
		{"wrong nkey", s.plain, broker.Auth{NkeySeedFile: s.otherSeed}, []string{"(nkey U", "Authorization Violation"}},
		{"no credential", s.plain, broker.Auth{}, []string{"(no credential)", "Authorization Violation"}},
		{"missing client certificate", s.mtls, broker.Auth{User: testUser, Password: testPassword, TLS: ca},
			[]string{"(user " + testUser + ", TLS (CA " + s.pki.CA + "))", "client certificate", "set tls.cert and tls.key"}},
		{"untrusted CA", s.tls, broker.Auth{User: testUser, Password: testPassword, TLS: broker.TLS{CA: s.otherPKI.CA}},
			[]string{"certificate signed by unknown authority", "not signed by a trusted CA"}},
		{"client certificate of another CA", s.mtls, broker.Auth{User: testUser, Password: testPassword,
			TLS: broker.TLS{CA: s.pki.CA, Cert: s.otherPKI.ClientCert, Key: s.otherPKI.ClientKey}}, []string{"client certificate"}},
		{"TLS server and the system CAs", s.tls, broker.Auth{User: testUser, Password: testPassword},
			[]string{"certificate signed by unknown authority"}},
	}
	secrets := s.secretsOf(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			nc, err := tt.auth.Connect(tt.url, "test", log)
			if len(tt.wantErr) > 0 {
				if err == nil {
					nc.Close()
					t.Fatal("connected, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				noSecret(t, err.Error(), secrets)
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			authtest.UseJetStream(t, nc, "t."+strings.ReplaceAll(tt.name, " ", "-"), []byte(`{"n":`+string(rune('0'+i%10))+`}`))
			nc.Close()
			noSecret(t, logs.String(), secrets)
		})
	}
}

func noSecret(t *testing.T, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%q holds a secret", text)
		}
	}
}
