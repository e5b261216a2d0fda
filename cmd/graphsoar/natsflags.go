package main

import (
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"

	"github.com/graphsoar/graphsoar/internal/broker"
	"github.com/graphsoar/graphsoar/internal/config"
)

// natsFlags are the NATS connection flags of every command that connects
// (run, poll, publish, dlq, replay): the servers, one credential, and TLS.
// Each, when given (or set from its GRAPHSOAR_* variable: the password is
// best given as GRAPHSOAR_NATS_PASSWORD or --nats-password-file, since a
// flag is visible to every local user), overrides the configuration file.
type natsFlags struct {
	url          string
	creds        string
	nkey         string
	user         string
	password     string
	passwordFile string
	tlsCA        string
	tlsCert      string
	tlsKey       string
}

// register adds the flags to fs; defaultURL is --nats-url's default and
// urlHelp its help.
func (f *natsFlags) register(fs *pflag.FlagSet, defaultURL, urlHelp string) {
	fs.StringVar(&f.url, "nats-url", defaultURL, urlHelp)
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (user JWT and seed)")
	fs.StringVar(&f.nkey, "nats-nkey", "", "file holding an nkey user seed (SU...)")
	fs.StringVar(&f.user, "nats-user", "", "NATS user (password: GRAPHSOAR_NATS_PASSWORD or --nats-password-file)")
	fs.StringVar(&f.password, "nats-password", "", "NATS password; prefer GRAPHSOAR_NATS_PASSWORD or --nats-password-file (a flag shows in ps)")
	fs.StringVar(&f.passwordFile, "nats-password-file", "", "file holding the NATS password")
	fs.StringVar(&f.tlsCA, "nats-tls-ca", "", "CA certificate(s) that sign the NATS servers' certificates (PEM); turns TLS on")
	fs.StringVar(&f.tlsCert, "nats-tls-cert", "", "client certificate for NATS servers that verify clients (PEM); turns TLS on")
	fs.StringVar(&f.tlsKey, "nats-tls-key", "", "key of --nats-tls-cert (PEM)")
}

// apply copies the flags that were given (on the command line or through
// their variables) onto n. A password from one source replaces one from the
// other (a flag's password file wins over the config file's password).
func (f *natsFlags) apply(fs *pflag.FlagSet, n *config.NATS) {
	set := func(name string, apply func()) {
		if fs.Changed(name) {
			apply()
		}
	}
	set("nats-url", func() { n.URL = f.url })
	set("nats-creds", func() { n.Creds = f.creds })
	set("nats-nkey", func() { n.NkeySeedFile = f.nkey })
	set("nats-user", func() { n.User = f.user })
	set("nats-password", func() { n.Password, n.PasswordFile = broker.Secret(f.password), "" })
	set("nats-password-file", func() { n.PasswordFile, n.Password = f.passwordFile, "" })
	set("nats-tls-ca", func() { n.TLS.CA = f.tlsCA })
	set("nats-tls-cert", func() { n.TLS.Cert = f.tlsCert })
	set("nats-tls-key", func() { n.TLS.Key = f.tlsKey })
}

// config is the NATS configuration of a command without a configuration
// file (publish, dlq, replay): the flags over the defaults, with the URL
// always taken from --nats-url (its default included).
func (f *natsFlags) config(fs *pflag.FlagSet) config.NATS {
	n := config.Default().NATS
	f.apply(fs, &n)
	n.URL = f.url
	return n
}

// dial connects a short-lived command (publish, dlq, replay) with the
// flags: a usage error (exit 2) when they do not fit together or a file
// cannot be read, else the connection error, redacted.
func (f *natsFlags) dial(fs *pflag.FlagSet, name string, extra ...nats.Option) (*nats.Conn, error) {
	auth := f.config(fs).Auth()
	if err := auth.Validate(); err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("nats: %w", err)}
	}
	return auth.Dial(f.url, name, extra...)
}

// jetStream dials as dial does and returns a JetStream context on the
// connection, and the function that closes it.
func (f *natsFlags) jetStream(fs *pflag.FlagSet, name string) (jetstream.JetStream, func(), error) {
	nc, err := f.dial(fs, name)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nc.Close, nil
}
