package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/graphsoar/graphsoar/internal/secret"
)

// Connect connects to NATS for a long-lived process, with no credentials but
// those in the URL and extra; see Auth.Connect.
func Connect(url, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	return Auth{}.Connect(url, name, log, extra...)
}

// Connect connects to NATS with a's credentials and TLS, for a long-lived
// process: it reconnects forever, buffers publishes while reconnecting and
// logs connection changes. Extra options are appended. Every URL of the list
// is redacted in its errors and log lines, and no password, token or seed
// appears in either.
func (a Auth) Connect(url, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	scrub := secret.NewScrubber(append(urlSecrets(url), a.secrets()...)...)
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectBufSize(64 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", scrub.Err(err))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", RedactURL(c.ConnectedUrl())) }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats async error", "subject", subject, "err", scrub.Err(err))
		}),
	}
	return a.dial(url, scrub, append(opts, extra...))
}

// Dial connects to NATS with a's credentials and TLS for a short-lived
// command (publish, dlq, replay): nats.go's default reconnection, no logging.
// Its errors are redacted as Connect's.
func (a Auth) Dial(url, name string, extra ...nats.Option) (*nats.Conn, error) {
	scrub := secret.NewScrubber(append(urlSecrets(url), a.secrets()...)...)
	return a.dial(url, scrub, append([]nats.Option{nats.Name(name)}, extra...))
}

func (a Auth) dial(url string, scrub secret.Scrubber, opts []nats.Option) (*nats.Conn, error) {
	authOpts, err := a.Options()
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", RedactURL(url), scrub.Err(err))
	}
	nc, err := nats.Connect(url, append(authOpts, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s (%s): %w%s", RedactURL(url), a, scrub.Err(err), hint(err))
	}
	return nc, nil
}

// hint says what a connection error usually means.
func hint(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	// nats.go does not keep the chain of a TLS alert the server sent:
	// recognise its text (crypto/tls's alert names).
	msg := err.Error()
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return " (the server refused the credential: check the user and password, nkey seed or creds file)"
	case errors.As(err, &unknownCA):
		return " (the server's certificate is not signed by a trusted CA: check tls.ca, --nats-tls-ca)"
	case errors.As(err, &hostname):
		return " (the server's certificate does not name the host of the URL)"
	case strings.Contains(msg, tls.AlertError(116).Error()): // certificate required
		return " (the server requires a client certificate: set tls.cert and tls.key, --nats-tls-cert and --nats-tls-key)"
	case strings.Contains(msg, "closed by remote after TLS handshake"):
		// TLS 1.3: the server may refuse the client's certificate (or its
		// absence) after the client thinks the handshake is done.
		return " (the server closed the connection after the TLS handshake: it may require a client certificate it trusts: set tls.cert and tls.key)"
	case strings.Contains(msg, tls.AlertError(48).Error()), strings.Contains(msg, tls.AlertError(42).Error()):
		return " (the server does not accept the client certificate: is it signed by a CA the server trusts?)"
	case errors.Is(err, nats.ErrSecureConnRequired):
		return " (the server requires TLS: use a tls:// URL or give tls.ca)"
	case errors.Is(err, nats.ErrSecureConnWanted):
		return " (the server does not offer TLS)"
	}
	return ""
}
