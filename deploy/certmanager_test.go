package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/graphsoar/graphsoar/internal/broker/authtest"
)

// certificate is cert-manager's v1 Certificate with the fields the
// manifests use; decodeStrict rejects any other (a misspelt field, or one of
// cert-manager's this test does not know: add it here).
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string           `json:"secretName"`
		CommonName  string           `json:"commonName"`
		DNSNames    []string         `json:"dnsNames"`
		IPAddresses []string         `json:"ipAddresses"`
		Duration    *metav1.Duration `json:"duration"`
		RenewBefore *metav1.Duration `json:"renewBefore"`
		IsCA        bool             `json:"isCA"`
		Usages      []string         `json:"usages"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			Encoding       string `json:"encoding"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Group string `json:"group"`
			Kind  string `json:"kind"`
			Name  string `json:"name"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// issuer is cert-manager's v1 Issuer: self-signed, or a CA from a Secret.
type issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca"`
	} `json:"spec"`
}

// certificateFor returns the Certificate whose Secret is name.
func (c *cluster) certificateFor(name string) (*certificate, bool) {
	for _, crt := range all[*certificate](c) {
		if crt.Spec.SecretName == name {
			return crt, true
		}
	}
	return nil, false
}

// TestCertificates checks the TLS material of the manifests: every
// Certificate is issued by an Issuer of the manifests, the CA Issuer's
// Secret is a CA Certificate, servers' certificates serve and clients'
// authenticate, every key is ECDSA or RSA of a decent size, and renewal
// comes before expiry.
func TestCertificates(t *testing.T) {
	c := loadCluster(t)
	crts := all[*certificate](c)
	if len(crts) == 0 {
		t.Fatal("no cert-manager Certificate among the manifests")
	}
	for _, crt := range crts {
		ref := crt.Spec.IssuerRef
		iss, ok := get[*issuer](c, ref.Name)
		switch {
		case ref.Kind != "Issuer" || ref.Group != "cert-manager.io":
			t.Errorf("Certificate %s: issuerRef %s/%s, want an Issuer of the manifests", crt.Name, ref.Group, ref.Kind)
		case !ok:
			t.Errorf("Certificate %s: Issuer %s is not among the manifests", crt.Name, ref.Name)
		case iss.Spec.SelfSigned != nil && !crt.Spec.IsCA:
			t.Errorf("Certificate %s: a self-signed leaf; only the CA is self-signed", crt.Name)
		}
		if crt.Spec.SecretName == "" {
			t.Errorf("Certificate %s: no secretName", crt.Name)
		}
		if pk := crt.Spec.PrivateKey; pk == nil || !(pk.Algorithm == "ECDSA" && pk.Size >= 256 || pk.Algorithm == "RSA" && pk.Size >= 3072) {
			t.Errorf("Certificate %s: privateKey %+v, want ECDSA >= 256 or RSA >= 3072", crt.Name, pk)
		}
		if d, r := crt.Spec.Duration, crt.Spec.RenewBefore; d == nil || r == nil || r.Duration <= 0 || r.Duration >= d.Duration {
			t.Errorf("Certificate %s: renewBefore must be set and below duration", crt.Name)
		}
		if !crt.Spec.IsCA && len(crt.Spec.Usages) == 0 {
			t.Errorf("Certificate %s: no usages", crt.Name)
		}
	}
	for _, iss := range all[*issuer](c) {
		if iss.Spec.CA == nil {
			continue
		}
		if ca, ok := c.certificateFor(iss.Spec.CA.SecretName); !ok || !ca.Spec.IsCA {
			t.Errorf("Issuer %s: Secret %s is not the Secret of a CA Certificate", iss.Name, iss.Spec.CA.SecretName)
		}
	}
}

// hasUsage reports whether a certificate may be used for usage.
func hasUsage(crt *certificate, usage string) bool { return slices.Contains(crt.Spec.Usages, usage) }

// covers reports whether a certificate's names cover host (a *. name
// covers one label).
func covers(crt *certificate, host string) bool {
	for _, n := range append(slices.Clone(crt.Spec.DNSNames), crt.Spec.CommonName) {
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if label, domain, found := strings.Cut(host, "."); found && label != "" && domain == rest {
				return true
			}
		}
	}
	return false
}

// secretStandIns stands in for the files of a container's Secret volumes
// that cert-manager writes, which do not exist offline: it writes generated
// certificates as tls.crt, tls.key and ca.crt under a temporary directory
// per mount, and returns a replacer from each mount path to its stand-in.
func secretStandIns(t *testing.T, c *cluster, pod *corev1.PodSpec, ctr *corev1.Container) *strings.Replacer {
	t.Helper()
	var pairs []string
	for _, m := range ctr.VolumeMounts {
		v, ok := volumeNamed(pod, m.Name)
		if !ok || v.Secret == nil {
			continue
		}
		if _, ok := c.certificateFor(v.Secret.SecretName); !ok {
			continue
		}
		pki := authtest.NewPKI(t)
		dir := filepath.Join(t.TempDir(), m.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string]string{"ca.crt": pki.CA, "tls.crt": pki.ServerCert, "tls.key": pki.ServerKey} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		pairs = append(pairs, strings.TrimSuffix(m.MountPath, "/")+"/", dir+"/")
	}
	return strings.NewReplacer(pairs...)
}
