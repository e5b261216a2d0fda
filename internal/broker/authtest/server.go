package authtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Options configure a test server. The zero value is a plain server without
// authentication.
type Options struct {
	// PKI turns TLS on with its server certificate; nil: no TLS.
	PKI *PKI
	// VerifyClients requires a client certificate signed by PKI's CA.
	VerifyClients bool
	// Users are user names and their passwords.
	Users map[string]string
	// Nkeys are the public keys of nkey users.
	Nkeys []string
}

// Start starts a NATS server with JetStream on 127.0.0.1 (a free port),
// storing in a temporary directory, stopped when the test ends. It returns
// the client URL.
func Start(t testing.TB, o Options) string {
	t.Helper()
	opts := base(t)
	for user, pw := range o.Users {
		opts.Users = append(opts.Users, &server.User{Username: user, Password: pw})
	}
	for _, pub := range o.Nkeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: pub})
	}
	if o.PKI != nil {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: o.PKI.ServerCert, KeyFile: o.PKI.ServerKey, CaFile: o.PKI.CA, Verify: o.VerifyClients,
		})
		if err != nil {
			t.Fatal(err)
		}
		opts.TLS, opts.TLSVerify, opts.TLSConfig, opts.TLSTimeout = true, o.VerifyClients, tc, 2
	}
	return run(t, opts)
}

// StartOperator starts a server in operator mode (decentralised JWT
// authentication) with one account that may use JetStream, and returns its
// URL and a creds file of a user of that account.
func StartOperator(t testing.TB) (url, creds string) {
	t.Helper()
	op, opPub := newKeys(t, nkeys.CreateOperator)
	acc, accPub := newKeys(t, nkeys.CreateAccount)
	_, sysPub := newKeys(t, nkeys.CreateAccount)
	user, userPub := newKeys(t, nkeys.CreateUser)

	opClaims := jwt.NewOperatorClaims(opPub)
	opClaims.SystemAccount = sysPub
	if _, err := opClaims.Encode(op); err != nil {
		t.Fatal(err)
	}
	accClaims := jwt.NewAccountClaims(accPub)
	accClaims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := accClaims.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	userJWT, err := jwt.NewUserClaims(userPub).Encode(acc)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	creds = filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(creds, b, 0o600); err != nil {
		t.Fatal(err)
	}

	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	for pub, token := range map[string]string{accPub: accJWT, sysPub: sysJWT} {
		if err := resolver.Store(pub, token); err != nil {
			t.Fatal(err)
		}
	}
	opts := base(t)
	opts.TrustedOperators = []*jwt.OperatorClaims{opClaims}
	opts.AccountResolver = resolver
	opts.SystemAccount = sysPub
	return run(t, opts), creds
}

// NewUserSeed creates an nkey user and writes its seed to a file; it returns
// the file and the user's public key.
func NewUserSeed(t testing.TB) (file, pub string) {
	t.Helper()
	kp, pub := newKeys(t, nkeys.CreateUser)
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(file, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, pub
}

func newKeys(t testing.TB, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

func base(t testing.TB) *server.Options {
	return &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoLog: true, NoSigs: true,
	}
}

func run(t testing.TB, opts *server.Options) string {
	t.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("in-process NATS server not ready")
	}
	return srv.ClientURL()
}
