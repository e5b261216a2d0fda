// Package config is graphsoar's configuration: defaults, a YAML file,
// GRAPHSOAR_* variables and flags, in increasing precedence (the command line
// applies the last two).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/graph"
)

// Config is the whole configuration of `graphsoar run` and `graphsoar poll`.
type Config struct {
	NATS  NATS         `yaml:"nats"`
	Rules string       `yaml:"rules"`
	Graph graph.Config `yaml:"graph"`
	// Defender is the Defender for Endpoint API that blocks file hashes
	// (indicators), and the choice of backend.
	Defender graph.Defender `yaml:"defender"`
	Worker   Worker         `yaml:"worker"`
	Poll     Poll           `yaml:"poll"`
	// Listen is the address of /metrics, /healthz and /readyz ("" for none).
	Listen string `yaml:"listen"`
	Log    Log    `yaml:"log"`
}

// NATS says where the events are.
type NATS struct {
	// URL of the NATS servers; empty starts an embedded server with JetStream
	// storing in DataDir.
	URL string `yaml:"url"`
	// Creds is a NATS credentials file (a user JWT and its seed).
	Creds string `yaml:"creds"`
	// NkeySeedFile is a file holding an nkey user seed.
	NkeySeedFile string `yaml:"nkeySeedFile"`
	// User and its password (Password, or the first line of PasswordFile);
	// write password as ${VARIABLE} to keep it out of the file.
	User         string        `yaml:"user"`
	Password     broker.Secret `yaml:"password"`
	PasswordFile string        `yaml:"passwordFile"`
	// TLS verifies the servers with CA and presents Cert and Key to servers
	// that verify clients.
	TLS     NATSTLS `yaml:"tls"`
	DataDir string  `yaml:"dataDir"`
	Stream  string  `yaml:"stream"`
	Subject string  `yaml:"subject"`
	// Partitions spread incidents over consumers that replicas share; fixed
	// for the stream's life.
	Partitions int    `yaml:"partitions"`
	Consumer   string `yaml:"consumer"`
	// Create creates or updates the stream, consumers and buckets; false only
	// checks that they exist.
	Create     bool          `yaml:"create"`
	Replicas   int           `yaml:"replicas"`
	AckWait    time.Duration `yaml:"ackWait"`
	MaxDeliver int           `yaml:"maxDeliver"`
	MaxAge     time.Duration `yaml:"maxAge"`
}

// Worker tunes the worker.
type Worker struct {
	// ID names the replica; default host name and process id.
	ID string `yaml:"id"`
	// Identity is what Graph writes as lastModifiedBy for graphsoar's own
	// changes (the app registration's name); learned from the first PATCH
	// when empty. It lets our own update events end without a GET.
	Identity     string        `yaml:"identity"`
	Concurrency  int           `yaml:"concurrency"`
	DryRun       bool          `yaml:"dryRun"`
	ActionBudget int           `yaml:"actionBudget"`
	Refresh      bool          `yaml:"refreshBeforeWrite"`
	EventTimeout time.Duration `yaml:"eventTimeout"`
	// MaxEventBytes, MaxAlerts and MaxEvidence bound one event (defaults 1
	// MiB, 1,000 alerts, 10,000 evidence items): an event over any of them
	// is dead-lettered as too_large.
	MaxEventBytes int `yaml:"maxEventBytes"`
	MaxAlerts     int `yaml:"maxAlerts"`
	MaxEvidence   int `yaml:"maxEvidence"`
	// RetryBudget is how long an event may keep failing (429s, outages)
	// before it is dead-lettered, counted from its first failure. Default 6h.
	RetryBudget  time.Duration `yaml:"retryBudget"`
	DrainTimeout time.Duration `yaml:"drainTimeout"`
	// ApprovalTimeout is how long an action a rule holds for approval
	// waits for a decision before it expires. Default 24h.
	ApprovalTimeout time.Duration `yaml:"approvalTimeout"`
}

// Poll tunes the producer.
type Poll struct {
	// Tenants to poll; default: the tenants of graph.tenants.
	Tenants  []string      `yaml:"tenants"`
	Interval time.Duration `yaml:"interval"`
	// Since is where polling starts when a tenant has no watermark; default
	// now minus one interval.
	Since    time.Time `yaml:"since"`
	PageSize int       `yaml:"pageSize"`
	// Bucket holds the watermarks.
	Bucket string `yaml:"bucket"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Default returns the defaults.
func Default() Config {
	t := broker.DefaultTopology()
	return Config{
		NATS: NATS{
			DataDir: "data/nats", Stream: t.Stream, Subject: t.Subject, Partitions: t.Partitions, Consumer: t.Consumer,
			Create: true, Replicas: 1, AckWait: t.AckWait, MaxDeliver: t.MaxDeliver, MaxAge: t.MaxAge,
		},
		Rules: "rules",
		Graph: graph.Config{Root: graph.DefaultRoot},
		Worker: Worker{Concurrency: 32, ActionBudget: 20, Refresh: true, EventTimeout: 2 * time.Minute, DrainTimeout: 30 * time.Second,
			RetryBudget: 6 * time.Hour, ApprovalTimeout: 24 * time.Hour},
		Poll: Poll{Interval: 30 * time.Second, PageSize: 50, Bucket: "graphsoar-poll"},
		Log:  Log{Level: "info", Format: "json"},
	}
}

// Load reads a YAML file over the defaults. ${VAR} (or $VAR) in a value is
// replaced by the variable's value (getenv), so secrets can stay out of the
// file, and $$ by $; the file is parsed first, so a value is never read as YAML (a secret
// holding "*", "#" or ": " stays one string) and comments are left alone.
// Unknown keys and unset variables are errors, named with the file and line;
// errors never quote a variable's value.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return cfg, nil
		}
		return cfg, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var missing []string
	expandNode(&doc, func(n *yaml.Node, name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, fmt.Sprintf("%s:%d:%d: variable %s is not set", path, n.Line, n.Column, name))
		}
		return v
	})
	if len(missing) > 0 {
		return cfg, errors.New(strings.Join(missing, "\n"))
	}
	if err := decodeStrict(&doc, &cfg); err != nil {
		return cfg, prefixLines(path, err)
	}
	return cfg, nil
}

// expandNode replaces the variables in every scalar under n. A plain scalar
// whose text changed loses its resolved tag, so "${PARTITIONS}" decodes as the
// number the variable holds.
func expandNode(n *yaml.Node, getenv func(*yaml.Node, string) string) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		parts := strings.Split(n.Value, "$$") // "$$" is a literal "$"
		for i, p := range parts {
			parts[i] = os.Expand(p, func(name string) string { return getenv(n, name) })
		}
		v := strings.Join(parts, "$")
		if v != n.Value && n.Style == 0 {
			n.Tag = ""
		}
		n.Value = v
	}
	for _, c := range n.Content {
		expandNode(c, getenv)
	}
}

// decodeStrict decodes a parsed document, rejecting unknown keys with their
// line (yaml.v3 offers KnownFields only on its Decoder, not on a Node).
func decodeStrict(doc *yaml.Node, out *Config) error {
	if errs := unknownKeys(doc, reflect.TypeOf(out).Elem()); len(errs) > 0 {
		return errors.Join(errs...)
	}
	return doc.Decode(out)
}

// Validate checks the configuration: the NATS credentials and TLS files
// (readable, complete), the Graph and Defender URLs (https whenever a tenant
// credential is real), and the tuning values. Its errors never hold a secret.
func (c Config) Validate() error {
	if err := c.Topology().Validate(); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if c.NATS.URL == "" && c.NATS.DataDir == "" {
		return errors.New("nats: without a url, a data directory is needed for the embedded server")
	}
	if err := c.NATS.validateAuth(); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if c.Rules == "" {
		return errors.New("rules: directory missing")
	}
	if err := c.GraphConfig().Validate(); err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	if err := c.GraphConfig().CheckTransport(); err != nil {
		return err
	}
	switch {
	case c.Worker.Concurrency < 1:
		return errors.New("worker.concurrency must be at least 1")
	case c.Worker.ApprovalTimeout < time.Minute || c.Worker.ApprovalTimeout > c.Topology().ApprovalsTTL/2:
		// The bucket forgets a record after ApprovalsTTL: an undecided
		// action must expire (and be audited) well before.
		return fmt.Errorf("worker.approvalTimeout %v: want 1m to %v (half the %v the approvals bucket keeps a record)",
			c.Worker.ApprovalTimeout, c.Topology().ApprovalsTTL/2, c.Topology().ApprovalsTTL)
	case c.Poll.Interval < time.Second:
		return errors.New("poll.interval must be at least 1s")
	case c.Poll.PageSize < 1 || c.Poll.PageSize > 50:
		return errors.New("poll.pageSize must be 1 to 50 (Graph's maximum)")
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return fmt.Errorf("log.format %q: want json or text", c.Log.Format)
	}
	return nil
}

// GraphConfig is the configuration of the Graph client, defaults applied:
// graph: with defender: beside it.
func (c Config) GraphConfig() graph.Config {
	g := c.Graph
	g.Defender = c.Defender
	return g.WithDefaults()
}

// Topology is the broker topology of the configuration.
func (c Config) Topology() broker.Topology {
	t := broker.DefaultTopology()
	t.Stream, t.Subject, t.Partitions, t.Consumer = c.NATS.Stream, c.NATS.Subject, c.NATS.Partitions, c.NATS.Consumer
	t.Replicas, t.AckWait, t.MaxDeliver, t.MaxAge = c.NATS.Replicas, c.NATS.AckWait, c.NATS.MaxDeliver, c.NATS.MaxAge
	if c.Worker.DryRun {
		// A dry run never takes events or state from the real worker.
		t.Consumer += "-dryrun"
		t.StateBucket += "-dryrun"
		t.EffectsBucket += "-dryrun"
		t.CoordBucket += "-dryrun"
		t.ApprovalsBucket += "-dryrun"
	}
	return t
}

// PollTenants are the tenants the producer polls.
func (c Config) PollTenants() []string {
	if len(c.Poll.Tenants) > 0 {
		return c.Poll.Tenants
	}
	var out []string
	for id := range c.Graph.Tenants {
		out = append(out, id)
	}
	return out
}
