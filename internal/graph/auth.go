package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"
)

// tokenFunc returns a bearer token ("" to send none).
type tokenFunc func(ctx context.Context) (string, error)

// authProvider builds the authentication of one tenant: the kiota provider
// of its Graph calls (tokens go only to the Graph host) and the token source
// of its Defender calls (scope DefenderScope), both from one credential: an
// azidentity credential for the Entra modes, a static bearer token for
// AuthNone.
func (c *Client) authProvider(tenant string, cred Credential) (absauth.AuthenticationProvider, tokenFunc, error) {
	root, err := url.Parse(c.cfg.Root)
	if err != nil {
		return nil, nil, err
	}
	hosts := []string{root.Hostname()}
	if cred.Auth == AuthNone {
		if cred.Anonymous {
			return &absauth.AnonymousAuthenticationProvider{}, func(context.Context) (string, error) { return "", nil }, nil
		}
		token := cred.Token.Reveal()
		if token == "" {
			token = emulatorToken(tenant)
		}
		static := func(context.Context) (string, error) { return token, nil }
		return absauth.NewBaseBearerTokenAuthenticationProvider(&staticToken{token: token, hosts: absauth.NewAllowedHostsValidator(hosts)}), static, nil
	}
	tc, err := c.tokenCredential(tenant, cred)
	if err != nil {
		return nil, nil, err
	}
	scopes := []string{c.cfg.Root + "/.default"}
	provider, err := kiotaazure.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(tc, scopes, hosts)
	if err != nil {
		return nil, nil, err
	}
	defender := func(ctx context.Context) (string, error) {
		tok, err := tc.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{DefenderScope}})
		if err != nil {
			return "", err
		}
		return tok.Token, nil
	}
	return provider, defender, nil
}

// tokenCredential builds the azidentity credential of a mode.
func (c *Client) tokenCredential(tenant string, cred Credential) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{}
	if c.cfg.AuthorityHost != "" {
		opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: c.cfg.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	}
	if c.authTransport != nil {
		opts.Transport = c.authTransport
	}
	switch cred.Auth {
	case AuthSecret:
		return azidentity.NewClientSecretCredential(tenant, cred.ClientID, cred.ClientSecret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: c.cfg.AuthorityHost != ""})
	case AuthCertificate:
		data, err := os.ReadFile(cred.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		var password []byte
		if cred.CertificatePassword != "" {
			password = []byte(cred.CertificatePassword.Reveal())
		}
		certs, key, err := azidentity.ParseCertificates(data, password)
		if err != nil {
			return nil, fmt.Errorf("certificate %s: %w", cred.CertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(tenant, cred.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: c.cfg.AuthorityHost != ""})
	case AuthWorkload:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, TenantID: tenant, ClientID: cred.ClientID, TokenFilePath: cred.TokenFile,
			DisableInstanceDiscovery: c.cfg.AuthorityHost != ""})
	case AuthManaged:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if cred.ManagedIdentityClientID != "" {
			mo.ID = azidentity.ClientID(cred.ManagedIdentityClientID)
		}
		return azidentity.NewManagedIdentityCredential(mo)
	case AuthDefault:
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts, TenantID: tenant})
	}
	return nil, fmt.Errorf("auth %q has no credential", cred.Auth)
}

// staticToken is an AccessTokenProvider with a fixed token.
type staticToken struct {
	token string
	hosts absauth.AllowedHostsValidator
}

func (s *staticToken) GetAuthorizationToken(_ context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !s.hosts.IsUrlHostValid(u) {
		return "", nil
	}
	return s.token, nil
}

func (s *staticToken) GetAllowedHostsValidator() *absauth.AllowedHostsValidator { return &s.hosts }

// emulatorToken is an unsigned JWT naming the tenant, for the Graph emulator
// (which scopes requests by the tid claim). It grants nothing on real Graph.
func emulatorToken(tenant string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]string{"tid": tenant, "app_displayname": "graphsoar"})
	return header + "." + enc.EncodeToString(claims) + ".x"
}

var _ absauth.AccessTokenProvider = (*staticToken)(nil)
