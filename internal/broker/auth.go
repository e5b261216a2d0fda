package broker

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Auth is how graphsoar authenticates to NATS and secures the connection:
// at most one credential (a creds file, an nkey seed file, or a user with a
// password given as Password or read from PasswordFile), and TLS when a CA
// or a client certificate is given (or the URL says tls://).
//
// Its errors name fields and files, never their contents: no password, seed
// or key ever appears in one.
type Auth struct {
	// Creds is a NATS credentials file (a user JWT and its nkey seed).
	Creds string
	// NkeySeedFile holds an nkey user seed (SU...).
	NkeySeedFile string
	// User and its password: Password, or the first line of PasswordFile.
	User         string
	Password     Secret
	PasswordFile string
	TLS          TLS
}

// TLS are the files of a TLS connection to NATS: CA verifies the servers
// (default: the system's roots), Cert and Key are the client certificate for
// servers that verify clients (mutual TLS).
type TLS struct {
	CA, Cert, Key string
}

// Enabled reports whether any TLS file is given.
func (t TLS) Enabled() bool { return t.CA != "" || t.Cert != "" || t.Key != "" }

// Validate checks that the fields fit together and that every file can be
// read and holds what it should.
func (a Auth) Validate() error {
	n := 0
	for _, set := range []bool{a.Creds != "", a.NkeySeedFile != "", a.User != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return errors.New("give one NATS credential: creds (--nats-creds), nkeySeedFile (--nats-nkey) or user (--nats-user)")
	case a.Password != "" && a.PasswordFile != "":
		return errors.New("password and passwordFile are both set: give one")
	case a.User != "" && a.Password == "" && a.PasswordFile == "":
		return fmt.Errorf("user %s has no password: set GRAPHSOAR_NATS_PASSWORD, --nats-password-file or nats.passwordFile", a.User)
	case a.User == "" && (a.Password != "" || a.PasswordFile != ""):
		return errors.New("a password without a user: set user (--nats-user)")
	case a.TLS.Cert != "" && a.TLS.Key == "":
		return fmt.Errorf("tls.cert %s without tls.key (--nats-tls-key)", a.TLS.Cert)
	case a.TLS.Key != "" && a.TLS.Cert == "":
		return fmt.Errorf("tls.key %s without tls.cert (--nats-tls-cert)", a.TLS.Key)
	}
	if a.Creds != "" {
		if err := checkCreds(a.Creds); err != nil {
			return err
		}
	}
	if a.NkeySeedFile != "" {
		if _, err := seedPublicKey(a.NkeySeedFile); err != nil {
			return err
		}
	}
	if a.PasswordFile != "" {
		if _, err := a.password(); err != nil {
			return err
		}
	}
	if a.TLS.CA != "" {
		if err := checkCA(a.TLS.CA); err != nil {
			return err
		}
	}
	if a.TLS.Cert != "" {
		if _, err := tls.LoadX509KeyPair(a.TLS.Cert, a.TLS.Key); err != nil {
			return fmt.Errorf("tls.cert %s and tls.key %s: %w", a.TLS.Cert, a.TLS.Key, err)
		}
	}
	return nil
}

// Options are the nats.go options of a: the credential, and TLS (at least
// TLS 1.2) with the CA and client certificate. It validates a first.
func (a Auth) Options() ([]nats.Option, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var opts []nats.Option
	switch {
	case a.Creds != "":
		opts = append(opts, nats.UserCredentials(a.Creds))
	case a.NkeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(a.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nkeySeedFile %s: not an nkey user seed", a.NkeySeedFile)
		}
		opts = append(opts, o)
	case a.User != "":
		pw, err := a.password()
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.UserInfo(a.User, pw.Reveal()))
	}
	if a.TLS.Enabled() {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
		if a.TLS.CA != "" {
			opts = append(opts, nats.RootCAs(a.TLS.CA))
		}
		if a.TLS.Cert != "" {
			opts = append(opts, nats.ClientCert(a.TLS.Cert, a.TLS.Key))
		}
	}
	return opts, nil
}

// String describes a for logs and errors, without secrets: "user
// graphsoar-worker, TLS (CA /etc/nats/ca.crt, client certificate ...)".
func (a Auth) String() string {
	var parts []string
	switch {
	case a.Creds != "":
		parts = append(parts, "creds "+a.Creds)
	case a.NkeySeedFile != "":
		who := "nkey seed " + a.NkeySeedFile
		if pub, err := seedPublicKey(a.NkeySeedFile); err == nil {
			who = "nkey " + pub
		}
		parts = append(parts, who)
	case a.User != "":
		parts = append(parts, "user "+a.User)
	default:
		parts = append(parts, "no credential")
	}
	if a.TLS.Enabled() {
		var t []string
		if a.TLS.CA != "" {
			t = append(t, "CA "+a.TLS.CA)
		}
		if a.TLS.Cert != "" {
			t = append(t, "client certificate "+a.TLS.Cert)
		}
		parts = append(parts, "TLS ("+strings.Join(t, ", ")+")")
	}
	return strings.Join(parts, ", ")
}

// password is the password, from Password or PasswordFile (its first line,
// without surrounding white space).
func (a Auth) password() (Secret, error) {
	if a.PasswordFile == "" {
		return a.Password, nil
	}
	b, err := os.ReadFile(a.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("passwordFile: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pw := Secret(strings.TrimSpace(line))
	if pw == "" {
		return "", fmt.Errorf("passwordFile %s is empty", a.PasswordFile)
	}
	return pw, nil
}

// secrets are the values to scrub from error texts.
func (a Auth) secrets() []string {
	pw, _ := a.password()
	if pw == "" {
		return nil
	}
	return []string{pw.Reveal()}
}

// seedPublicKey reads an nkey user seed file and returns its public key.
func seedPublicKey(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("nkeySeedFile: %w", err)
	}
	defer wipe(b)
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return "", fmt.Errorf("nkeySeedFile %s: no nkey seed in it", file)
	}
	defer kp.Wipe()
	if _, err := kp.Seed(); err != nil {
		return "", fmt.Errorf("nkeySeedFile %s: holds a public key, not a seed", file)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("nkeySeedFile %s: not a user seed (SU...)", file)
	}
	return pub, nil
}

// checkCreds checks that a creds file holds a user JWT and a seed.
func checkCreds(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("creds: %w", err)
	}
	defer wipe(b)
	kp, err := nkeys.ParseDecoratedUserNKey(b)
	if err != nil {
		return fmt.Errorf("creds %s: no user nkey seed in it", file)
	}
	kp.Wipe()
	token, err := nkeys.ParseDecoratedJWT(b)
	if err != nil {
		return fmt.Errorf("creds %s: no user JWT in it", file)
	}
	if _, err := jwt.DecodeUserClaims(token); err != nil {
		return fmt.Errorf("creds %s: its JWT is not a user JWT", file)
	}
	return nil
}

// checkCA checks that a CA file holds at least one PEM certificate.
func checkCA(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("tls.ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		if blk, _ := pem.Decode(b); blk != nil {
			return fmt.Errorf("tls.ca %s: PEM block %q is not a certificate", file, blk.Type)
		}
		return fmt.Errorf("tls.ca %s: no PEM certificate in it", file)
	}
	return nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}
