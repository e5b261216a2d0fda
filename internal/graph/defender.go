package graph

import (
	"fmt"
	"net/url"
	"strings"
)

// BlockBackend selects the API that block_file_hash writes to.
type BlockBackend string

// The block backends.
const (
	// BlockIndicators is Defender for Endpoint's indicators API
	// (POST {defender}/api/indicators): the supported way, and the default.
	BlockIndicators BlockBackend = "indicators"
	// BlockSecurityActions is the legacy Graph Security API's beta
	// securityActions, removed from Microsoft Graph on SecurityActionsRetired.
	// It stays for tenants and test rigs that still answer it.
	BlockSecurityActions BlockBackend = "securityActions"
)

// SecurityActionsRetired is the day Microsoft removed the legacy Graph
// Security API (beta securityActions and tiIndicators).
const SecurityActionsRetired = "2026-04-10"

// DefaultDefenderURL is Defender for Endpoint's global API endpoint; the geo
// hosts (us., eu., uk., au., swa., ina.api.security.microsoft.com) serve the
// same API.
const DefaultDefenderURL = "https://api.securitycenter.microsoft.com"

// DefenderScope is the token scope of the Defender for Endpoint API, for
// every host: application permission Ti.ReadWrite.All of WindowsDefenderATP.
const DefenderScope = "https://api.securitycenter.microsoft.com/.default"

// Defender configures the Defender for Endpoint API that blocks file hashes.
type Defender struct {
	// URL is the API root: {URL}/api/indicators. Default DefaultDefenderURL;
	// point it at the emulator, which serves both backends.
	URL string `yaml:"url" json:"url"`
	// BlockWith selects the backend of block_file_hash. Default indicators.
	BlockWith BlockBackend `yaml:"blockWith" json:"blockWith"`
	// IndicatorRate is the tenant's budget of indicator calls (submit, list,
	// delete): Defender allows 100 a minute and 1,500 an hour. Default
	// 100/min, 1500/hour, burst 10.
	IndicatorRate RateLimit `yaml:"indicatorRate" json:"indicatorRate"`
	// IndicatorApplication is the application field of the indicators
	// graphsoar creates. Default "graphsoar".
	IndicatorApplication string `yaml:"application" json:"application"`
}

// WithDefaults returns d with every unset field at its default.
func (d Defender) WithDefaults() Defender {
	if d.URL == "" {
		d.URL = DefaultDefenderURL
	}
	d.URL = strings.TrimRight(d.URL, "/")
	if d.BlockWith == "" {
		d.BlockWith = BlockIndicators
	}
	if d.IndicatorRate == (RateLimit{}) {
		d.IndicatorRate = RateLimit{PerMinute: 100, PerHour: 1500, Burst: 10}
	}
	if d.IndicatorApplication == "" {
		d.IndicatorApplication = "graphsoar"
	}
	return d
}

// Validate checks the Defender configuration (after WithDefaults).
func (d Defender) Validate() error {
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("defender url %q: want an http(s) URL such as %s", d.URL, DefaultDefenderURL)
	}
	if u.Path != "" {
		return fmt.Errorf("defender url %q: give the API root without /api", d.URL)
	}
	switch d.BlockWith {
	case BlockIndicators, BlockSecurityActions:
	default:
		return fmt.Errorf("defender blockWith %q: want %s or %s", d.BlockWith, BlockIndicators, BlockSecurityActions)
	}
	return nil
}

// LegacyWarning returns a warning when the configuration blocks file hashes
// through the retired securityActions against Microsoft's own Graph, where
// that call no longer works; "" otherwise (the emulator, a test rig).
func (c Config) LegacyWarning() string {
	c = c.WithDefaults()
	if c.Defender.BlockWith != BlockSecurityActions || !IsMicrosoftGraph(c.Root) {
		return ""
	}
	return fmt.Sprintf("block_file_hash uses beta securityActions, which Microsoft removed from Graph on %s: "+
		"blocks will fail on %s; use the indicators backend (defender.blockWith: indicators, --block-with indicators)",
		SecurityActionsRetired, c.Root)
}

// IsMicrosoftGraph reports whether root is one of Microsoft's Graph endpoints
// (global and national clouds), as opposed to an emulator.
func IsMicrosoftGraph(root string) bool {
	u, err := url.Parse(root)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, h := range []string{"graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"} {
		if host == h {
			return true
		}
	}
	return false
}

// indicatorURL is {defender}/api/indicators plus suffix.
func (c *Client) indicatorURL(suffix string, q url.Values) (*url.URL, error) {
	u, err := url.Parse(c.cfg.Defender.URL + "/api/indicators" + suffix)
	if err != nil {
		return nil, err
	}
	if q != nil {
		u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	return u, nil
}
