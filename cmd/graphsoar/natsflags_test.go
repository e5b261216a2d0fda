package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/graphsoar/graphsoar/internal/broker/authtest"
	"github.com/graphsoar/graphsoar/internal/config"
)

const natsTestPassword = "pw-of-the-worker-9f3c2a"

// loadWithFlags parses args on a command with the common flags, sets the
// unset flags from env as the root command does, and loads the
// configuration.
func loadWithFlags(t *testing.T, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	var f commonFlags
	cmd := &cobra.Command{Use: "x"}
	f.register(cmd.Flags())
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string { return env[k] }
	if err := bindEnv(cmd, getenv); err != nil {
		t.Fatal(err)
	}
	return f.load(cmd, getenv)
}

// TestNatsFlagsOverConfig: every NATS flag and its variable override the
// configuration file, and a password from one source replaces the other's.
func TestNatsFlagsOverConfig(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"graphsoar.yaml": "nats:\n  url: nats://file:4222\n  user: from-file\n  password: ${PW}\n  tls: {ca: /file/ca.pem}\n",
	})
	file := filepath.Join(dir, "graphsoar.yaml")
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(n config.NATS) bool
	}{
		{"file", map[string]string{"PW": "p1"}, []string{"--config", file}, func(n config.NATS) bool {
			return n.URL == "nats://file:4222" && n.User == "from-file" && n.Password.Reveal() == "p1" && n.TLS.CA == "/file/ca.pem"
		}},
		{"flags win", map[string]string{"PW": "p1"}, []string{"--config", file, "--nats-url", "nats://a:1,nats://b:2",
			"--nats-user", "u", "--nats-password-file", "/run/pw", "--nats-tls-ca", "/ca", "--nats-tls-cert", "/c", "--nats-tls-key", "/k"},
			func(n config.NATS) bool {
				return n.URL == "nats://a:1,nats://b:2" && n.User == "u" && n.Password == "" && n.PasswordFile == "/run/pw" &&
					n.TLS == config.NATSTLS{CA: "/ca", Cert: "/c", Key: "/k"}
			}},
		{"variables", map[string]string{"GRAPHSOAR_NATS_USER": "v", "GRAPHSOAR_NATS_PASSWORD": "p2", "GRAPHSOAR_NATS_TLS_CA": "/env/ca"}, nil,
			func(n config.NATS) bool {
				return n.User == "v" && n.Password.Reveal() == "p2" && n.TLS.CA == "/env/ca" && n.URL == ""
			}},
		{"nkey and creds", nil, []string{"--nats-nkey", "/seed.nk", "--nats-creds", "/user.creds"}, func(n config.NATS) bool {
			return n.NkeySeedFile == "/seed.nk" && n.Creds == "/user.creds"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadWithFlags(t, tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg.NATS) {
				t.Errorf("nats config %+v", cfg.NATS)
			}
		})
	}
}

// TestNatsFlagsDial: the flags of a short-lived command connect with mutual
// TLS and a password from the environment, and publish; a wrong password
// and flags that do not fit together fail without showing the password.
func TestNatsFlagsDial(t *testing.T) {
	t.Parallel()
	pki := authtest.NewPKI(t)
	url := authtest.Start(t, authtest.Options{PKI: &pki, VerifyClients: true, Users: map[string]string{"worker": natsTestPassword}})
	tlsArgs := []string{"--nats-url", url, "--nats-tls-ca", pki.CA, "--nats-tls-cert", pki.ClientCert, "--nats-tls-key", pki.ClientKey}
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int    // 0: connects; 2: usage; 1: connection error
		wantErr  string // in the error
	}{
		{"password from the environment", map[string]string{"GRAPHSOAR_NATS_PASSWORD": natsTestPassword},
			append([]string{"--nats-user", "worker"}, tlsArgs...), 0, ""},
		{"wrong password", map[string]string{"GRAPHSOAR_NATS_PASSWORD": "not-" + natsTestPassword},
			append([]string{"--nats-user", "worker"}, tlsArgs...), 1, "Authorization Violation"},
		{"no password", nil, append([]string{"--nats-user", "worker"}, tlsArgs...), 2, "nats: user worker has no password"},
		{"certificate without key", map[string]string{"GRAPHSOAR_NATS_PASSWORD": natsTestPassword},
			[]string{"--nats-url", url, "--nats-user", "worker", "--nats-tls-cert", pki.ClientCert}, 2, "without tls.key (--nats-tls-key)"},
		{"no client certificate", map[string]string{"GRAPHSOAR_NATS_PASSWORD": natsTestPassword},
			[]string{"--nats-url", url, "--nats-user", "worker", "--nats-tls-ca", pki.CA}, 1, "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var nf natsFlags
			cmd := &cobra.Command{Use: "x"}
			nf.register(cmd.Flags(), "nats://127.0.0.1:4222", "NATS servers")
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := bindEnv(cmd, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			nc, err := nf.dial(cmd.Flags(), "graphsoar-test")
			if tt.wantCode != 0 {
				if err == nil {
					nc.Close()
					t.Fatal("connected")
				}
				var ee *exitError
				if code := map[bool]int{true: 2, false: 1}[errors.As(err, &ee) && ee.code == 2]; code != tt.wantCode {
					t.Errorf("exit %d, want %d: %v", code, tt.wantCode, err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), natsTestPassword) {
					t.Errorf("error %q: want %q and no password", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			authtest.UseJetStream(t, nc, "t.x", []byte("{}"))
		})
	}
}

// TestNatsConfigRefusedAtStart: run and poll refuse NATS options that do not
// fit together, and an http Graph URL with a real credential, at start
// (exit 2), naming the problem and never the secret.
func TestNatsConfigRefusedAtStart(t *testing.T) {
	t.Parallel()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("client-secret-value-123"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"user without password", nil, []string{"--nats-url", "nats://127.0.0.1:1", "--nats-user", "u", "--auth", "none"},
			"nats: user u has no password"},
		{"missing CA", nil, []string{"--nats-url", "nats://127.0.0.1:1", "--nats-tls-ca", "/nonexistent/ca.pem", "--auth", "none"},
			"nats: tls.ca: open /nonexistent/ca.pem"},
		{"TLS with the embedded server", nil, []string{"--nats-tls-ca", "/nonexistent/ca.pem", "--auth", "none"},
			"the embedded server has no TLS"},
		{"http Graph with a secret", nil,
			[]string{"--graph-url", "http://graph.example:8080", "--auth", "secret", "--client-id", "app", "--client-secret-file", secretFile},
			"graph.url http://graph.example:8080: plain http with a real credential (the default credential, auth secret)"},
		{"http Defender with the default chain", nil, []string{"--defender-url", "http://defender.example"},
			"defender.url http://defender.example: plain http"},
	} {
		for _, command := range []string{"run", "poll"} {
			t.Run(command+" "+tt.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{command, "--tenant", "t1"}, tt.args...)
				if command == "run" {
					args = append([]string{command, "--rules", "../../rules"}, tt.args...)
				}
				r := cli(t, tt.env, "", args...)
				if r.code != 2 || !strings.Contains(r.err, tt.want) {
					t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.err, tt.want)
				}
				if strings.Contains(r.err, "client-secret-value-123") || strings.Contains(r.err, natsTestPassword) {
					t.Errorf("stderr shows a secret: %s", r.err)
				}
			})
		}
	}
}
