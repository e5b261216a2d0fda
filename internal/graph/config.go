package graph

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/graphsoar/graphsoar/internal/secret"
)

// AuthMode selects how the client authenticates to Graph.
type AuthMode string

// The authentication modes.
const (
	// AuthNone sends a static bearer token (Credential.Token), or, when none is
	// configured, an unsigned token naming the tenant: for the Graph emulator.
	AuthNone AuthMode = "none"
	// AuthSecret is an app registration's client secret.
	AuthSecret AuthMode = "secret"
	// AuthCertificate is an app registration's client certificate (PEM or PKCS#12).
	AuthCertificate AuthMode = "certificate"
	// AuthWorkload is Azure workload identity federation (Kubernetes).
	AuthWorkload AuthMode = "workload"
	// AuthManaged is an Azure managed identity.
	AuthManaged AuthMode = "managed"
	// AuthDefault is azidentity's default credential chain.
	AuthDefault AuthMode = "default"
)

// AuthModes lists the valid modes.
func AuthModes() []AuthMode {
	return []AuthMode{AuthNone, AuthSecret, AuthCertificate, AuthWorkload, AuthManaged, AuthDefault}
}

// Secret is a configuration value that must never be printed; see
// secret.Secret.
type Secret = secret.Secret

// Credential says how to authenticate for one tenant.
type Credential struct {
	Auth     AuthMode `yaml:"auth" json:"auth"`
	ClientID string   `yaml:"clientId" json:"clientId"`
	// ClientSecret is for AuthSecret.
	ClientSecret Secret `yaml:"clientSecret" json:"clientSecret"`
	// CertificateFile (PEM with the key, or PKCS#12) and its password are for
	// AuthCertificate.
	CertificateFile     string `yaml:"certificateFile" json:"certificateFile"`
	CertificatePassword Secret `yaml:"certificatePassword" json:"certificatePassword"`
	// TokenFile is the federated token file of AuthWorkload (default: the
	// AZURE_FEDERATED_TOKEN_FILE variable).
	TokenFile string `yaml:"tokenFile" json:"tokenFile"`
	// ManagedIdentityClientID selects a user-assigned managed identity.
	ManagedIdentityClientID string `yaml:"managedIdentityClientId" json:"managedIdentityClientId"`
	// Token is the static bearer token of AuthNone.
	Token Secret `yaml:"token" json:"token"`
	// Anonymous (AuthNone) sends no Authorization header at all.
	Anonymous bool `yaml:"anonymous" json:"anonymous"`
}

// Validate checks that the credential has what its mode needs.
func (c Credential) Validate() error {
	switch c.Auth {
	case AuthNone, AuthDefault, AuthManaged, AuthWorkload:
	case AuthSecret:
		if c.ClientID == "" || c.ClientSecret == "" {
			return errors.New("auth secret needs clientId and clientSecret")
		}
	case AuthCertificate:
		if c.ClientID == "" || c.CertificateFile == "" {
			return errors.New("auth certificate needs clientId and certificateFile")
		}
	case "":
		return errors.New("auth missing")
	default:
		return fmt.Errorf("auth %q is not one of none, secret, certificate, workload, managed, default", c.Auth)
	}
	return nil
}

// RateLimit is a request budget per tenant: at most PerMinute requests in any
// minute (and, when PerHour is set, at most PerHour in any hour), up to Burst
// of them at once. PerMinute 0 means the default; -1 means no limit.
type RateLimit struct {
	PerMinute int `yaml:"perMinute" json:"perMinute"`
	PerHour   int `yaml:"perHour" json:"perHour"`
	Burst     int `yaml:"burst" json:"burst"`
}

// Vendor is the vendorInformation of security actions.
type Vendor struct {
	Provider string `yaml:"provider" json:"provider"`
	Vendor   string `yaml:"vendor" json:"vendor"`
}

// Config configures the Graph client.
type Config struct {
	// Root is the Graph root: v1.0 calls go to {Root}/v1.0/..., beta calls to
	// {Root}/beta/.... Default https://graph.microsoft.com; point it at the emulator.
	Root string `yaml:"url" json:"url"`
	// AuthorityHost is the Microsoft Entra authority for the credential modes
	// (default https://login.microsoftonline.com/; sovereign clouds differ).
	AuthorityHost string `yaml:"authorityHost" json:"authorityHost"`
	// Tenants holds the credential of each tenant, by tenant id.
	Tenants map[string]Credential `yaml:"tenants" json:"tenants"`
	// Default is the credential of tenants not in Tenants (a multi-tenant app,
	// or the emulator); nil refuses them.
	Default *Credential `yaml:"default" json:"default"`
	// Timeout bounds one HTTP request. Default 30s.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// MaxAttempts bounds the attempts of one operation. Default 3.
	MaxAttempts int `yaml:"maxAttempts" json:"maxAttempts"`
	// MaxRetryWait is the longest the client waits in-process before a retry;
	// a longer Retry-After is returned to the caller (the worker naks the event
	// with that delay). Default 30s.
	MaxRetryWait time.Duration `yaml:"maxRetryWait" json:"maxRetryWait"`
	// BackoffBase and BackoffMax shape the jittered exponential backoff used when
	// Graph gives no Retry-After. Defaults 500ms and 30s.
	BackoffBase time.Duration `yaml:"backoffBase" json:"backoffBase"`
	BackoffMax  time.Duration `yaml:"backoffMax" json:"backoffMax"`
	// IncidentRate limits incident calls (GET, PATCH, comments, lists) per
	// tenant. Default 600/min, burst 20.
	IncidentRate RateLimit `yaml:"incidentRate" json:"incidentRate"`
	// SecurityActionRate limits security-action calls per tenant. Default
	// 150/min (Graph's limit per app per tenant), burst 10.
	SecurityActionRate RateLimit `yaml:"securityActionRate" json:"securityActionRate"`
	// SecurityActionName is the name of the security action that blocks a file
	// hash. Graph documents BlockIp only; default BlockFile.
	SecurityActionName string `yaml:"securityActionName" json:"securityActionName"`
	// SecurityActionVendor is its vendorInformation. Default Windows Defender
	// ATP / Microsoft.
	SecurityActionVendor Vendor `yaml:"securityActionVendor" json:"securityActionVendor"`
	// Defender configures the Defender for Endpoint API (indicators). The
	// configuration file holds it at the top level (defender:), beside graph:.
	Defender Defender `yaml:"-" json:"-"`
}

// DefaultRoot is Microsoft Graph's global endpoint.
const DefaultRoot = "https://graph.microsoft.com"

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	c.Root = strings.TrimRight(c.Root, "/")
	set(&c.Timeout, 30*time.Second)
	set(&c.MaxRetryWait, 30*time.Second)
	set(&c.BackoffBase, 500*time.Millisecond)
	set(&c.BackoffMax, 30*time.Second)
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.IncidentRate == (RateLimit{}) {
		c.IncidentRate = RateLimit{PerMinute: 600, Burst: 20}
	}
	if c.SecurityActionRate == (RateLimit{}) {
		c.SecurityActionRate = RateLimit{PerMinute: 150, Burst: 10}
	}
	if c.SecurityActionName == "" {
		c.SecurityActionName = "BlockFile"
	}
	if c.SecurityActionVendor == (Vendor{}) {
		c.SecurityActionVendor = Vendor{Provider: "Windows Defender ATP", Vendor: "Microsoft"}
	}
	c.Defender = c.Defender.WithDefaults()
	return c
}

// Validate checks the configuration (after WithDefaults).
func (c Config) Validate() error {
	u, err := url.Parse(c.Root)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("graph url %q: want an http(s) URL such as %s", c.Root, DefaultRoot)
	}
	if u.Path != "" {
		return fmt.Errorf("graph url %q: give the Graph root without /v1.0 or /beta", c.Root)
	}
	if len(c.Tenants) == 0 && c.Default == nil {
		return errors.New("no tenant credentials: configure tenants or a default credential")
	}
	for id, cred := range c.Tenants {
		if id == "" {
			return errors.New("a tenant without an id")
		}
		if err := cred.Validate(); err != nil {
			return fmt.Errorf("tenant %s: %w", id, err)
		}
	}
	if c.Default != nil {
		if err := c.Default.Validate(); err != nil {
			return fmt.Errorf("default credential: %w", err)
		}
	}
	switch {
	case c.Timeout < 0, c.MaxRetryWait < 0, c.BackoffBase < 0, c.BackoffMax < c.BackoffBase:
		return errors.New("graph timeouts and backoff must be positive, backoffMax >= backoffBase")
	case c.MaxAttempts < 1:
		return errors.New("graph maxAttempts must be at least 1")
	}
	for _, r := range []struct {
		name string
		RateLimit
	}{{"incidentRate", c.IncidentRate}, {"securityActionRate", c.SecurityActionRate}, {"defender.indicatorRate", c.Defender.IndicatorRate}} {
		if r.PerMinute < -1 || r.PerHour < 0 || r.Burst < 0 {
			return fmt.Errorf("%s: perMinute is a count, 0 for the default or -1 for none; perHour and burst are counts", r.name)
		}
	}
	return c.Defender.Validate()
}

// secrets lists every secret value of the configuration, for the client's
// secret.Scrubber (which leaves out values too short to scrub).
func (c Config) secrets() []string {
	var out []string
	add := func(cr Credential) {
		for _, s := range []Secret{cr.ClientSecret, cr.CertificatePassword, cr.Token} {
			out = append(out, s.Reveal())
		}
	}
	for _, cr := range c.Tenants {
		add(cr)
	}
	if c.Default != nil {
		add(*c.Default)
	}
	return out
}
