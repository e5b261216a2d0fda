package graph_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/graph"
	"github.com/graphsoar/graphsoar/internal/graphfake"
)

const secret = "s3cr3t-Value-8Q~never-print-me"

// authority is a fake Microsoft Entra token endpoint over TLS: it serves the
// OpenID configuration MSAL reads and issues a JWT naming the tenant when
// accept says the client's credentials are good.
type authority struct {
	*httptest.Server
	mu     sync.Mutex
	forms  []map[string]string
	accept func(form map[string]string) bool
	echo   bool // echo the client secret in the error text (a hostile or buggy authority)
}

func newAuthority(t *testing.T, accept func(map[string]string) bool) *authority {
	t.Helper()
	a := &authority{accept: accept}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *authority) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	tenantID := parts[0]
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		base := a.URL + "/" + tenantID
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/v2.0",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
		_ = r.ParseForm()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		a.mu.Lock()
		a.forms = append(a.forms, form)
		a.mu.Unlock()
		if !a.accept(form) {
			desc := "AADSTS7000215: Invalid client secret provided."
			if a.echo {
				desc += " Got: " + form["client_secret"]
			}
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": desc, "error_codes": []int{7000215}})
			return
		}
		enc := base64.RawURLEncoding
		claims, _ := json.Marshal(map[string]any{"tid": tenantID, "app_displayname": "graphsoar-test", "exp": time.Now().Add(time.Hour).Unix()})
		token := enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(claims) + ".sig"
		_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token})
	default:
		http.NotFound(w, r)
	}
}

func authClient(t *testing.T, a *authority, root string, cred graph.Credential, logs *bytes.Buffer) (*graph.Client, error) {
	t.Helper()
	return graph.New(graph.Config{
		Root:          root,
		AuthorityHost: a.URL + "/",
		Tenants:       map[string]graph.Credential{tenant: cred},
		MaxAttempts:   1,
	}, graph.WithAuthTransport(a.Client()), graph.WithLogger(slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
}

func TestClientSecretCredential(t *testing.T) {
	t.Parallel()
	a := newAuthority(t, func(f map[string]string) bool { return f["client_secret"] == secret })
	srv, root := emulator(t, graphfake.Options{}) // strict: needs a bearer token
	var logs bytes.Buffer
	c, err := authClient(t, a, root, graph.Credential{Auth: graph.AuthSecret, ClientID: "app-1", ClientSecret: secret}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetIncident(context.Background(), tenant, "4211"); err != nil {
		t.Fatal(err)
	}
	if reqs := srv.RequestsFor("GET", "/v1.0/security/incidents/4211"); len(reqs) != 1 || reqs[0].Tenant != tenant {
		t.Errorf("the token from Entra did not reach Graph with its tenant: %+v", reqs)
	}
	a.mu.Lock()
	form := a.forms[0]
	a.mu.Unlock()
	if form["client_id"] != "app-1" || form["grant_type"] != "client_credentials" || !strings.Contains(form["scope"], root+"/.default") {
		t.Errorf("token request %v", form)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	a := newAuthority(t, func(map[string]string) bool { return false })
	a.echo = true
	_, root := emulator(t, graphfake.Options{})
	var logs bytes.Buffer
	c, err := authClient(t, a, root, graph.Credential{Auth: graph.AuthSecret, ClientID: "app-1", ClientSecret: secret}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.GetIncident(context.Background(), tenant, "4211")
	if !errors.Is(err, graph.ErrAuth) || !graph.IsRetryable(err) {
		t.Fatalf("a refused credential: %v", err)
	}
	if !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("the error should say why: %v", err)
	}
	texts := map[string]string{
		"error":  err.Error(),
		"%+v":    fmt.Sprintf("%+v", err),
		"logs":   logs.String(),
		"unwrap": fmt.Sprint(errors.Unwrap(err)),
	}
	cfg := graph.Config{Tenants: map[string]graph.Credential{tenant: {Auth: graph.AuthSecret, ClientSecret: secret, CertificatePassword: secret, Token: secret}}}
	texts["config %v"] = fmt.Sprintf("%v", cfg)
	texts["config %+v"] = fmt.Sprintf("%+v", cfg)
	texts["config %#v"] = fmt.Sprintf("%#v", cfg)
	j, _ := json.Marshal(cfg)
	texts["config json"] = string(j)
	y, _ := yaml.Marshal(cfg)
	texts["config yaml"] = string(y)
	texts["secret %s"] = fmt.Sprintf("%s %v %q", graph.Secret(secret), graph.Secret(secret), graph.Secret(secret))
	for name, text := range texts {
		if strings.Contains(text, secret) {
			t.Errorf("%s shows the secret: %s", name, text)
		}
	}
	if !strings.Contains(texts["config json"], "[REDACTED]") {
		t.Errorf("secrets should read [REDACTED]: %s", texts["config json"])
	}
}

func TestClientCertificateCredential(t *testing.T) {
	t.Parallel()
	a := newAuthority(t, func(f map[string]string) bool {
		return f["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" && f["client_assertion"] != ""
	})
	_, root := emulator(t, graphfake.Options{})
	certFile := filepath.Join(t.TempDir(), "app.pem")
	writeCert(t, certFile)
	var logs bytes.Buffer
	c, err := authClient(t, a, root, graph.Credential{Auth: graph.AuthCertificate, ClientID: "app-2", CertificateFile: certFile}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetIncident(context.Background(), tenant, "4212"); err != nil {
		t.Fatal(err)
	}
	if _, err := authClient(t, a, root, graph.Credential{Auth: graph.AuthCertificate, ClientID: "app-2", CertificateFile: filepath.Join(t.TempDir(), "none.pem")}, &logs); err == nil || !strings.Contains(err.Error(), "none.pem") {
		t.Errorf("a missing certificate must fail at New, naming the file: %v", err)
	}
}

func writeCert(t *testing.T, path string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "graphsoar"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	_ = pem.Encode(&buf, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	none := &graph.Credential{Auth: graph.AuthNone}
	tests := []struct {
		cfg  graph.Config
		want string
	}{
		{graph.Config{Default: none}, ""},
		{graph.Config{Root: "ftp://x", Default: none}, "want an http(s) URL"},
		{graph.Config{Root: "https://graph.microsoft.com/v1.0", Default: none}, "without /v1.0 or /beta"},
		{graph.Config{}, "no tenant credentials"},
		{graph.Config{Tenants: map[string]graph.Credential{"t": {Auth: graph.AuthSecret}}}, "tenant t: auth secret needs clientId and clientSecret"},
		{graph.Config{Tenants: map[string]graph.Credential{"t": {Auth: "kerberos"}}}, `auth "kerberos" is not one of`},
		{graph.Config{Tenants: map[string]graph.Credential{"t": {}}}, "tenant t: auth missing"},
		{graph.Config{Default: &graph.Credential{Auth: graph.AuthCertificate}}, "default credential: auth certificate needs clientId and certificateFile"},
		{graph.Config{Default: none, MaxAttempts: -1}, "maxAttempts must be at least 1"},
		{graph.Config{Default: none, IncidentRate: graph.RateLimit{PerMinute: -2}}, "-1 for none"},
		{graph.Config{Default: none, IncidentRate: graph.RateLimit{PerMinute: -1}}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.WithDefaults().Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: err %v, want %q", tt.cfg, err, tt.want)
		}
	}
	d := graph.Config{Default: none}.WithDefaults()
	if d.Root != graph.DefaultRoot || d.SecurityActionRate.PerMinute != 150 || d.SecurityActionName == "" || d.MaxAttempts != 3 {
		t.Errorf("defaults %+v", d)
	}
}
