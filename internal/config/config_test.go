package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/graph"
)

func write(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "graphsoar.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	t.Parallel()
	p := write(t, `
nats:
  url: nats://nats:4222
  partitions: 32
rules: /etc/graphsoar/rules
graph:
  url: https://graph.microsoft.com
  tenants:
    3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71:
      auth: secret
      clientId: app-1
      clientSecret: ${APP_SECRET}
  securityActionRate: { perMinute: 100, burst: 5 }
worker:
  concurrency: 64
  drainTimeout: 45s
poll:
  interval: 1m
`)
	cfg, err := config.Load(p, func(k string) string {
		if k == "APP_SECRET" {
			return "from-env"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cred := cfg.Graph.Tenants["3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71"]
	if cfg.NATS.URL != "nats://nats:4222" || cfg.NATS.Partitions != 32 || cfg.NATS.Stream != "INCIDENTS" ||
		cred.Auth != graph.AuthSecret || cred.ClientSecret.Reveal() != "from-env" || cfg.Graph.SecurityActionRate.PerMinute != 100 ||
		cfg.Worker.Concurrency != 64 || cfg.Worker.DrainTimeout != 45*time.Second || cfg.Poll.Interval != time.Minute || !cfg.Worker.Refresh {
		t.Errorf("config %+v", cfg)
	}
	if got := cfg.PollTenants(); len(got) != 1 {
		t.Errorf("poll tenants %v", got)
	}
}

// TestLoadExpandsValuesOnly: a variable's value is never read as YAML, a
// variable in a comment is not needed, and a number from a variable is a
// number.
func TestLoadExpandsValuesOnly(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"APP_SECRET": "*kT9: v #x\n{y}", // an alias, a key, a comment, a flow mapping
		"PARTITIONS": "16",
		"WAIT":       "90s",
	}
	p := write(t, `# the secret is ${NOT_NEEDED}
nats:
  partitions: ${PARTITIONS}
  ackWait: $WAIT
  creds: /etc/$$HOME/${PARTITIONS}$$
graph:
  tenants:
    t1:
      auth: secret
      clientId: app-1
      clientSecret: ${APP_SECRET}
`)
	cfg, err := config.Load(p, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Graph.Tenants["t1"].ClientSecret.Reveal(); got != env["APP_SECRET"] {
		t.Errorf("secret %q, want %q", got, env["APP_SECRET"])
	}
	if cfg.NATS.Partitions != 16 || cfg.NATS.AckWait != 90*time.Second {
		t.Errorf("partitions %d, ackWait %v", cfg.NATS.Partitions, cfg.NATS.AckWait)
	}
	if cfg.NATS.Creds != "/etc/$HOME/16$" {
		t.Errorf("creds %q: $$ is a literal $", cfg.NATS.Creds)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	for content, want := range map[string]string{
		"nats:\n  ulr: x\n": "graphsoar.yaml:2: field ulr not found in type config.NATS",
		"graph:\n  tenants:\n    t:\n      auth: secret\n      clientSecret: ${NOPE}\n": "graphsoar.yaml:5:21: variable NOPE is not set",
		"graph:\n  tenants:\n    t: {auth: secret, clientSecret: \"${NOPE}\"}\n":        "graphsoar.yaml:3:37: variable NOPE is not set",
		"worker:\n  drainTimeout: soon\n":                                               "graphsoar.yaml:2: cannot unmarshal",
		"rules: [\n":                                                                    "graphsoar.yaml:",
	} {
		_, err := config.Load(write(t, content), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "graphsoar.yaml") {
			t.Errorf("%q: err %v, want %q", content, err, want)
		}
	}
	if _, err := config.Load(write(t, ""), func(string) string { return "" }); err != nil {
		t.Errorf("an empty file is the defaults: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := config.Default()
	ok.Graph.Default = &graph.Credential{Auth: graph.AuthNone}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*config.Config){
		"partitions":                         func(c *config.Config) { c.NATS.Partitions = 0 },
		"no data dir":                        func(c *config.Config) { c.NATS.DataDir = "" },
		"no graph creds":                     func(c *config.Config) { c.Graph.Default = nil },
		"concurrency":                        func(c *config.Config) { c.Worker.Concurrency = 0 },
		"approval timeout beyond the bucket": func(c *config.Config) { c.Worker.ApprovalTimeout = 20 * 24 * time.Hour },
		"no approval timeout":                func(c *config.Config) { c.Worker.ApprovalTimeout = 0 },
		"page size":                          func(c *config.Config) { c.Poll.PageSize = 500 },
		"log format":                         func(c *config.Config) { c.Log.Format = "xml" },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	dry := ok
	dry.Worker.DryRun = true
	if top := dry.Topology(); top.Consumer != "graphsoar-dryrun" || top.StateBucket != "graphsoar-state-dryrun" {
		t.Errorf("dry-run topology %+v", top)
	}
}
