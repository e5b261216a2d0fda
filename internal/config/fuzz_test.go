package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/graph"
)

// fuzzSecrets are the values of the variables whose name says they hold a
// secret: an Entra client secret, and passwords with YAML indicators in them
// (a leading alias '*', a comment " #", a ": "). The seeds' variables pick the
// second and third.
var fuzzSecrets = []string{
	"*kT9vQ2mZwXy",
	"Zq8Q~kdVw.ZqF_x-3vB9nRt",
	"mZ7qK2vR8 #pL4xW",
	"pW4xLq: 9LrqZt",
}

// fuzzGetenv is the environment of FuzzLoad: variables named UNSET* are not
// set, variables named like a secret (…SECRET…, …PASSWORD…, …TOKEN…) hold one
// of fuzzSecrets (chosen by the name's length), any other is "value-NAME".
func fuzzGetenv(name string) string {
	switch {
	case strings.HasPrefix(strings.ToUpper(name), "UNSET"):
		return ""
	case isSecretName(name):
		return fuzzSecrets[len(name)%len(fuzzSecrets)]
	}
	return "value-" + name
}

func isSecretName(name string) bool {
	upper := strings.ToUpper(name)
	return strings.Contains(upper, "SECRET") || strings.Contains(upper, "PASSWORD") || strings.Contains(upper, "TOKEN")
}

// secretRef finds the variables written as the value of a secret key of a
// graph credential (clientSecret, certificatePassword, token).
var secretRef = regexp.MustCompile(`\b(?:clientSecret|certificatePassword|token)["']?[ \t]*:[ \t]*["'\[]?\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// leaked returns the longest piece of secret (at least 6 bytes, or the whole
// secret when shorter) found in text, or "".
func leaked(text, secret string) string {
	n := min(6, len(secret))
	for size := len(secret); size >= n; size-- {
		for i := 0; i+size <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+size]) {
				return secret[i : i+size]
			}
		}
	}
	return ""
}

// FuzzLoad checks config.Load on any file: it never panics; every error names
// the file; a secret that the file takes from the environment for a graph
// credential never shows in an error (README: "Secrets are never printed:
// configuration dumps, logs and errors show [REDACTED]"); and a configuration
// that loads validates without panicking, without printing its secrets,
// printing them in dumps only as [REDACTED].
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		"nats:\n  url: nats://nats:4222\n  partitions: 32\nrules: /etc/graphsoar/rules\n",
		`nats:
  url: nats://nats.graphsoar.svc:4222
  stream: INCIDENTS
  subject: security.incidents.>
  partitions: 8
  consumer: graphsoar
  create: true
  replicas: 3
  ackWait: 60s
  maxDeliver: 10
  maxAge: 168h
rules: /etc/graphsoar/rules
graph:
  url: https://graph.microsoft.com
  tenants:
    3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71:
      auth: secret
      clientId: ${CONTOSO_CLIENT_ID}
      clientSecret: ${CONTOSO_CLIENT_SECRET}
    9a1b2c3d-0000-0000-0000-000000000002:
      auth: certificate
      clientId: 00000000-0000-0000-0000-000000000002
      certificateFile: /etc/graphsoar/fabrikam.pem
      certificatePassword: "${FABRIKAM_PASSWORD}"
  default:
    auth: workload
    clientId: 00000000-0000-0000-0000-000000000003
  incidentRate: { perMinute: 600, burst: 20 }
  securityActionRate: { perMinute: 150, burst: 10 }
  securityActionName: BlockFile
  securityActionVendor: { provider: Windows Defender ATP, vendor: Microsoft }
  maxRetryWait: 30s
  backoffBase: 500ms
  backoffMax: 30s
worker:
  id: worker-0
  concurrency: 32
  dryRun: false
  actionBudget: 20
  refreshBeforeWrite: true
  eventTimeout: 2m
  drainTimeout: 30s
poll:
  tenants: [3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71]
  interval: 30s
  since: 2026-11-20T09:30:00Z
  pageSize: 50
  bucket: graphsoar-poll
listen: ":9090"
log: { level: info, format: json }
`,
		"graph:\n  default: {auth: none, token: $EMULATOR_TOKEN}\n  url: http://127.0.0.1:8080\n",
		"graph:\n  tenants:\n    t: {auth: secret, clientId: app, clientSecret: ${UNSET_SECRET}}\n",
		"graph:\n  tenants:\n    t: {auth: secret, clientId: app, clientSecret: ${APP_SECRET}}\n",
		"graph:\n  tenants:\n    t: {auth: secret, clientId: app, clientSecret: ${APP_SECRET}}\n  default: {auth: kerberos}\n",
		"nats:\n  ulr: x\n",
		"worker:\n  drainTimeout: soon\n",
		"log: {format: xml}\npoll: {pageSize: 500}\n",
		"a: &a [*a]\n",
		"nats: {partitions: 99999999999999999999}\n",
		"---\nrules: r\n---\nrules: s\n",
		"$$ ${} ${A_${B}} $",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "graphsoar.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, fuzzGetenv)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Fatalf("error does not name the file %s: %v", path, err)
			}
			msg = strings.ReplaceAll(msg, path, "")
			for _, m := range secretRef.FindAllSubmatch(data, -1) {
				name := string(m[1])
				secret := fuzzGetenv(name)
				if !isSecretName(name) || secret == "" {
					continue
				}
				if piece := leaked(msg, secret); piece != "" && !strings.Contains(string(data), piece) {
					t.Fatalf("the error shows %q of the secret %q of variable %s: %v", piece, secret, m[1], err)
				}
			}
			return
		}
		// The secrets of the loaded configuration: never in Validate's error,
		// never in a dump. A value that is also a setting other than a secret
		// (auth: ${APP_SECRET}) is not a secret.
		dump := fmt.Sprintf("%v %+v", cfg, cfg)
		if cfg.Graph.Default != nil {
			dump += fmt.Sprintf(" %v %+v", *cfg.Graph.Default, *cfg.Graph.Default)
		}
		var secrets []string
		add := func(c graph.Credential) {
			for _, s := range []graph.Secret{c.ClientSecret, c.CertificatePassword, c.Token} {
				if len(s) >= 4 {
					secrets = append(secrets, s.Reveal())
				}
			}
		}
		for _, c := range cfg.Graph.Tenants {
			add(c)
		}
		if cfg.Graph.Default != nil {
			add(*cfg.Graph.Default)
		}
		verr := cfg.Validate()
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				continue // also a setting other than a secret
			}
			if verr != nil && strings.Contains(verr.Error(), s) {
				t.Fatalf("Validate's error shows the secret %q: %v", s, verr)
			}
		}
		if len(secrets) > 0 && !strings.Contains(dump, "[REDACTED]") {
			t.Fatalf("a configuration with secrets dumps without [REDACTED]: %s", dump)
		}
		if verr == nil {
			// A valid configuration has a valid broker topology with a
			// bounded set of partitions.
			top := cfg.Topology()
			if err := top.Validate(); err != nil {
				t.Fatalf("Validate passed but the topology is invalid: %v", err)
			}
			if ids := top.PartitionIDs(); len(ids) < 1 || len(ids) > 1025 {
				t.Fatalf("%d partitions", len(ids))
			}
		}
	})
}
