package broker

import (
	"net/url"
	"strings"

	"github.com/graphsoar/graphsoar/internal/secret"
)

// RedactURL hides the credentials of every URL of a comma-separated NATS
// server list: "nats://a:4222,nats://u:p@b:4222" becomes
// "nats://a:4222,nats://[REDACTED]@b:4222". Everything before the last @ of
// an entry is taken for its user information, so a malformed entry is
// over-redacted rather than leaked.
func RedactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if scheme, info, rest, ok := splitUserInfo(p); ok && info != "" {
			parts[i] = scheme + secret.Redacted + "@" + rest
		}
	}
	return strings.Join(parts, ",")
}

// urlSecrets are the user information, passwords and tokens of every URL of
// a server list, as written and unescaped: the values to scrub from texts
// that may quote a URL.
func urlSecrets(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		_, info, _, ok := splitUserInfo(p)
		if !ok || info == "" {
			continue
		}
		out = append(out, info+"@")
		secret := info
		if _, pw, found := strings.Cut(info, ":"); found {
			secret = pw
		}
		out = append(out, secret)
		if u, err := url.PathUnescape(secret); err == nil && u != secret {
			out = append(out, u)
		}
	}
	return out
}

// splitUserInfo splits one URL into "scheme://", the user information before
// its last @, and the rest; ok is false when it has no @.
func splitUserInfo(u string) (scheme, info, rest string, ok bool) {
	u = strings.TrimSpace(u)
	if i := strings.Index(u, "://"); i >= 0 {
		scheme, u = u[:i+3], u[i+3:]
	}
	at := strings.LastIndex(u, "@")
	if at < 0 {
		return scheme, "", u, false
	}
	return scheme, u[:at], u[at+1:], true
}
