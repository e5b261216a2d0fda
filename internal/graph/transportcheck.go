package graph

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// CheckTransport refuses a plain http:// Graph root or Defender URL while any
// credential of the configuration is real (a tenant's or the default one,
// with an auth mode other than none): its bearer tokens would cross the
// network unencrypted. With every credential at auth none (the emulator),
// http stays allowed. The error names the URL, the credential and the
// reason, never a secret.
func (c Config) CheckTransport() error {
	c = c.WithDefaults()
	who, mode := c.realCredential()
	if who == "" {
		return nil
	}
	for _, u := range []struct{ key, raw string }{{"graph.url", c.Root}, {"defender.url", c.Defender.URL}} {
		parsed, err := url.Parse(u.raw)
		if err != nil || !strings.EqualFold(parsed.Scheme, "http") {
			continue
		}
		return fmt.Errorf("%s %s: plain http with a real credential (%s, auth %s) would send its bearer tokens unencrypted: use https, or auth none (--auth none) for the emulator",
			u.key, parsed.Redacted(), who, mode)
	}
	return nil
}

// realCredential names the first credential (the default, then tenants by
// id) whose mode is not none; "" when there is none.
func (c Config) realCredential() (who string, mode AuthMode) {
	if c.Default != nil && c.Default.Auth != AuthNone {
		return "the default credential", c.Default.Auth
	}
	ids := make([]string, 0, len(c.Tenants))
	for id := range c.Tenants {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if m := c.Tenants[id].Auth; m != AuthNone {
			return "tenant " + id, m
		}
	}
	return "", ""
}
