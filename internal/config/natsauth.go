package config

import (
	"errors"

	"github.com/graphsoar/graphsoar/internal/broker"
)

// NATSTLS are the TLS files of the NATS connection (nats.tls): the CA that
// signs the servers' certificates, and the client certificate and its key
// for servers that verify clients.
type NATSTLS struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Auth is the NATS credential and TLS of the configuration, for
// broker.Auth.Connect.
func (n NATS) Auth() broker.Auth {
	return broker.Auth{
		Creds: n.Creds, NkeySeedFile: n.NkeySeedFile,
		User: n.User, Password: n.Password, PasswordFile: n.PasswordFile,
		TLS: broker.TLS{CA: n.TLS.CA, Cert: n.TLS.Cert, Key: n.TLS.Key},
	}
}

// validateAuth checks the credential and TLS settings and their files.
func (n NATS) validateAuth() error {
	a := n.Auth()
	if n.URL == "" && a.TLS.Enabled() {
		return errors.New("tls is set but url is not: the embedded server has no TLS; give the servers' url")
	}
	return a.Validate()
}
