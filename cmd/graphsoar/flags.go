package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/graph"
)

// commonFlags are the flags run and poll share. Each one, when given (or set
// from its GRAPHSOAR_* variable), overrides the configuration file.
type commonFlags struct {
	configFile  string
	nats        natsFlags
	dataDir     string
	embedListen string
	stream      string
	subject     string
	partitions  int
	noCreate    bool
	graphURL    string
	defenderURL string
	blockWith   string
	auth        string
	clientID    string
	secretFile  string
	certFile    string
	managedID   string
	tenants     []string
	listen      string
	logLevel    string
	logFormat   string
}

func (f *commonFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.configFile, "config", "", "configuration file (YAML; ${VAR} is expanded)")
	f.nats.register(fs, "", "NATS servers (comma-separated); empty starts an embedded NATS server with JetStream")
	fs.StringVar(&f.dataDir, "data-dir", "data/nats", "JetStream storage of the embedded NATS server")
	fs.StringVar(&f.embedListen, "embedded-listen", "127.0.0.1:4222", "address of the embedded NATS server")
	fs.StringVar(&f.stream, "stream", "INCIDENTS", "JetStream stream of incident events")
	fs.StringVar(&f.subject, "subject", "security.incidents.>", "subjects of the stream: PREFIX.<tenant>.<incident>")
	fs.IntVar(&f.partitions, "partitions", 8, "partitions that spread incidents over replicas (fixed for the stream's life)")
	fs.BoolVar(&f.noCreate, "no-create", false, "do not create or update the stream, consumers and buckets; require them")
	fs.StringVar(&f.graphURL, "graph-url", graph.DefaultRoot, "Microsoft Graph root (v1.0 and beta are appended); point it at the emulator")
	fs.StringVar(&f.defenderURL, "defender-url", graph.DefaultDefenderURL, "Defender for Endpoint API root (indicators: {url}/api/indicators); a geo host, or the emulator")
	fs.StringVar(&f.blockWith, "block-with", string(graph.BlockIndicators), "block_file_hash backend: indicators (Defender) or securityActions (legacy Graph beta, retired "+graph.SecurityActionsRetired+")")
	fs.StringVar(&f.auth, "auth", "default", "Graph credential of tenants not in the config file: none, secret, certificate, workload, managed, default")
	fs.StringVar(&f.clientID, "client-id", "", "app registration (client) id for secret and certificate auth")
	fs.StringVar(&f.secretFile, "client-secret-file", "", "file holding the client secret (or set GRAPHSOAR_CLIENT_SECRET)")
	fs.StringVar(&f.certFile, "client-certificate", "", "client certificate file, PEM or PKCS#12 (password: GRAPHSOAR_CLIENT_CERTIFICATE_PASSWORD)")
	fs.StringVar(&f.managedID, "managed-identity-client-id", "", "client id of a user-assigned managed identity")
	fs.StringSliceVar(&f.tenants, "tenant", nil, "tenant id (repeatable); default: the config file's tenants")
	fs.StringVar(&f.listen, "listen", "", "address for /metrics, /healthz and /readyz (e.g. :9090)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
}

// load builds the configuration: defaults, the file, then the flags that
// were given (directly or through GRAPHSOAR_* variables).
func (f *commonFlags) load(cmd *cobra.Command, getenv func(string) string) (config.Config, error) {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		if cfg, err = config.Load(f.configFile, getenv); err != nil {
			return cfg, err
		}
	}
	set := func(name string, apply func()) {
		if cmd.Flags().Changed(name) {
			apply()
		}
	}
	f.nats.apply(cmd.Flags(), &cfg.NATS)
	set("data-dir", func() { cfg.NATS.DataDir = f.dataDir })
	set("stream", func() { cfg.NATS.Stream = f.stream })
	set("subject", func() { cfg.NATS.Subject = f.subject })
	set("partitions", func() { cfg.NATS.Partitions = f.partitions })
	set("no-create", func() { cfg.NATS.Create = !f.noCreate })
	set("graph-url", func() { cfg.Graph.Root = f.graphURL })
	set("defender-url", func() { cfg.Defender.URL = f.defenderURL })
	set("block-with", func() { cfg.Defender.BlockWith = graph.BlockBackend(f.blockWith) })
	set("tenant", func() { cfg.Poll.Tenants = f.tenants })
	set("listen", func() { cfg.Listen = f.listen })
	set("log-level", func() { cfg.Log.Level = f.logLevel })
	set("log-format", func() { cfg.Log.Format = f.logFormat })
	if cmd.Flags().Changed("auth") || (cfg.Graph.Default == nil && len(cfg.Graph.Tenants) == 0) {
		cred, err := f.credential(getenv)
		if err != nil {
			return cfg, err
		}
		cfg.Graph.Default = &cred
	}
	return cfg, nil
}

// credential is the default Graph credential from --auth and its companions;
// secrets come from files or variables, never from flags.
func (f *commonFlags) credential(getenv func(string) string) (graph.Credential, error) {
	cred := graph.Credential{
		Auth: graph.AuthMode(f.auth), ClientID: f.clientID, CertificateFile: f.certFile,
		ManagedIdentityClientID: f.managedID,
		ClientSecret:            graph.Secret(getenv("GRAPHSOAR_CLIENT_SECRET")),
		CertificatePassword:     graph.Secret(getenv("GRAPHSOAR_CLIENT_CERTIFICATE_PASSWORD")),
		Token:                   graph.Secret(getenv("GRAPHSOAR_GRAPH_TOKEN")),
	}
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return cred, fmt.Errorf("--client-secret-file: %w", err)
		}
		cred.ClientSecret = graph.Secret(strings.TrimSpace(string(b)))
	}
	return cred, nil
}
