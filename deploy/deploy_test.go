package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// update rewrites the generated artefacts (deploy/nats/ and the rule copies
// under deploy/kubernetes/rules/) from the code instead of comparing.
var update = flag.Bool("update", false, "rewrite deploy/nats/*.json and deploy/kubernetes/rules/ from the code and rules/")

const (
	repo    = ".."
	k8sDir  = "kubernetes"
	example = "secret.example.yaml" // the Secret's shape; applied by hand, not by kustomize
)

// decodeStrict decodes JSON into v, failing on fields v does not have: with
// encoding/json's DisallowUnknownFields, and with sigs.k8s.io/json (the API
// server's decoder for fieldValidation=Strict), which also catches fields
// spelt in the wrong case (encoding/json matches names case-insensitively)
// and duplicate fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	strict, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// object is one decoded Kubernetes manifest.
type object struct {
	file string // relative to deploy/kubernetes
	doc  int    // 1-based document index in the file
	kind string // apiVersion/kind
	obj  metav1.Object
}

func (o object) String() string {
	return fmt.Sprintf("%s#%d %s %s", o.file, o.doc, o.kind, o.obj.GetName())
}

// kinds are the API types the manifests may use; anything else fails.
var kinds = map[string]func() metav1.Object{
	"v1/Namespace":                       func() metav1.Object { return &corev1.Namespace{} },
	"v1/ConfigMap":                       func() metav1.Object { return &corev1.ConfigMap{} },
	"v1/Secret":                          func() metav1.Object { return &corev1.Secret{} },
	"v1/Service":                         func() metav1.Object { return &corev1.Service{} },
	"v1/ServiceAccount":                  func() metav1.Object { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                 func() metav1.Object { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                func() metav1.Object { return &appsv1.StatefulSet{} },
	"policy/v1/PodDisruptionBudget":      func() metav1.Object { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy": func() metav1.Object { return &networkingv1.NetworkPolicy{} },
	// cert-manager's resources, decoded strictly into the fields of its v1
	// API that the manifests use (certmanager_test.go).
	"cert-manager.io/v1/Certificate": func() metav1.Object { return &certificate{} },
	"cert-manager.io/v1/Issuer":      func() metav1.Object { return &issuer{} },
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

// decodeManifests decodes every document of a multi-document YAML file.
func decodeManifests(file string, data []byte) ([]object, error) {
	var out []object
	var errs []error
	for i, doc := range docSeparator.Split(string(data), -1) {
		j, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", file, i+1, err))
			continue
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue // only comments
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(j, &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s#%d: %w", file, i+1, err))
			continue
		}
		kind := tm.APIVersion + "/" + tm.Kind
		mk, ok := kinds[kind]
		if !ok {
			errs = append(errs, fmt.Errorf("%s#%d: unknown kind %q (add its Go type to kinds)", file, i+1, kind))
			continue
		}
		obj := mk()
		if err := decodeStrict(j, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s#%d %s: %w", file, i+1, kind, err))
			continue
		}
		out = append(out, object{file: file, doc: i + 1, kind: kind, obj: obj})
	}
	return out, errors.Join(errs...)
}

// kustomization holds the fields of kustomization.yaml the manifests use;
// decodeStrict rejects any other.
type kustomization struct {
	APIVersion         string                 `json:"apiVersion"`
	Kind               string                 `json:"kind"`
	Namespace          string                 `json:"namespace"`
	Resources          []string               `json:"resources"`
	Images             []kustomizeImage       `json:"images"`
	ConfigMapGenerator []kustomizeCMGenerator `json:"configMapGenerator"`
	GeneratorOptions   *struct {
		DisableNameSuffixHash bool              `json:"disableNameSuffixHash"`
		Labels                map[string]string `json:"labels"`
	} `json:"generatorOptions"`
}

type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
	Digest  string `json:"digest"`
}

type kustomizeCMGenerator struct {
	Name     string   `json:"name"`
	Files    []string `json:"files"`
	Literals []string `json:"literals"`
}

// fileEntry splits a generator's file entry, "path" or "key=path".
func fileEntry(e string) (key, file string) {
	if k, f, ok := strings.Cut(e, "="); ok {
		return k, f
	}
	return path.Base(e), e
}

// cluster is everything `kubectl apply -k deploy/kubernetes` creates, plus
// the example Secret.
type cluster struct {
	t    *testing.T
	kust kustomization
	objs []object
	// generated are the ConfigMaps of configMapGenerator, with their source
	// file of each key (relative to deploy/kubernetes).
	generated map[string]map[string]string
}

var configMapKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, generated: map[string]map[string]string{}}
	data, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if err := decodeStrict(j, &c.kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if c.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || c.kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: apiVersion/kind %s/%s", c.kust.APIVersion, c.kust.Kind)
	}

	files := slices.Clone(c.kust.Resources)
	files = append(files, example)
	for _, f := range files {
		if !filepath.IsLocal(f) {
			t.Errorf("kustomization.yaml: resource %s is outside deploy/kubernetes", f)
			continue
		}
		data, err := os.ReadFile(filepath.Join(k8sDir, f))
		if err != nil {
			t.Errorf("kustomization.yaml: resource %s: %v", f, err)
			continue
		}
		objs, err := decodeManifests(f, data)
		if err != nil {
			t.Error(err)
		}
		if len(objs) == 0 && err == nil {
			t.Errorf("%s: no objects", f)
		}
		c.objs = append(c.objs, objs...)
	}

	// Every manifest file is either a kustomize resource or the example.
	entries, err := os.ReadDir(k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || (!strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml")) || n == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(files, n) {
			t.Errorf("%s is not in kustomization.yaml's resources", n)
		}
	}

	for _, g := range c.kust.ConfigMapGenerator {
		keys := map[string]string{}
		for _, e := range g.Files {
			key, f := fileEntry(e)
			switch {
			case !filepath.IsLocal(f):
				// Kustomize's default load restrictor refuses files outside
				// the kustomization's directory.
				t.Errorf("configMapGenerator %s: %s is outside deploy/kubernetes; kustomize would refuse it", g.Name, f)
			case !configMapKey.MatchString(key):
				t.Errorf("configMapGenerator %s: key %q is not a valid ConfigMap key", g.Name, key)
			case keys[key] != "":
				t.Errorf("configMapGenerator %s: key %q from both %s and %s", g.Name, key, keys[key], f)
			}
			if _, err := os.Stat(filepath.Join(k8sDir, f)); err != nil {
				t.Errorf("configMapGenerator %s: %v", g.Name, err)
			}
			keys[key] = f
		}
		for _, l := range g.Literals {
			k, _, _ := strings.Cut(l, "=")
			keys[k] = ""
		}
		c.generated[g.Name] = keys
	}

	// Names are unique per kind; the namespace is kustomize's.
	seen := map[string]object{}
	for _, o := range c.objs {
		key := o.kind + "/" + o.obj.GetName()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: duplicate of %s", o, prev)
		}
		seen[key] = o
		if o.obj.GetName() == "" {
			t.Errorf("%s: no name", o)
		}
		ns := o.obj.GetNamespace()
		if o.kind == "v1/Namespace" {
			if o.obj.GetName() != c.kust.Namespace {
				t.Errorf("%s: the namespace is not kustomization.yaml's %q", o, c.kust.Namespace)
			}
		} else if ns != "" && ns != c.kust.Namespace {
			t.Errorf("%s: namespace %q, kustomization.yaml sets %q", o, ns, c.kust.Namespace)
		}
	}
	for name := range c.generated {
		if _, dup := seen["v1/ConfigMap/"+name]; dup {
			t.Errorf("ConfigMap %s is both generated and a manifest", name)
		}
	}
	return c
}

func get[T any](c *cluster, name string) (T, bool) {
	for _, o := range c.objs {
		if v, ok := o.obj.(T); ok && o.obj.GetName() == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func all[T any](c *cluster) []T {
	var out []T
	for _, o := range c.objs {
		if v, ok := o.obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// configMapData returns a ConfigMap's data, for manifests and generated ones
// (read from their source files).
func (c *cluster) configMapData(name string) (map[string]string, bool) {
	if cm, ok := get[*corev1.ConfigMap](c, name); ok {
		data := map[string]string{}
		for k, v := range cm.Data {
			data[k] = v
		}
		for k, v := range cm.BinaryData {
			data[k] = string(v)
		}
		return data, true
	}
	keys, ok := c.generated[name]
	if !ok {
		return nil, false
	}
	data := map[string]string{}
	for k, f := range keys {
		b, err := os.ReadFile(filepath.Join(k8sDir, f))
		if err != nil {
			c.t.Errorf("ConfigMap %s key %s: %v", name, k, err)
		}
		data[k] = string(b)
	}
	return data, true
}

func (c *cluster) secretKeys(name string) (map[string]bool, bool) {
	s, ok := get[*corev1.Secret](c, name)
	if !ok {
		// A Secret cert-manager writes for a Certificate of the manifests.
		for _, crt := range all[*certificate](c) {
			if crt.Spec.SecretName == name {
				return map[string]bool{"tls.crt": true, "tls.key": true, "ca.crt": true}, true
			}
		}
		return nil, false
	}
	keys := map[string]bool{}
	for k := range s.Data {
		keys[k] = true
	}
	for k := range s.StringData {
		keys[k] = true
	}
	return keys, true
}

// workload is a Deployment or StatefulSet.
type workload struct {
	kind, name string
	replicas   int32
	selector   *metav1.LabelSelector
	template   *corev1.PodTemplateSpec
	claims     []corev1.PersistentVolumeClaim
	sts        *appsv1.StatefulSet
}

func (w workload) String() string { return w.kind + " " + w.name }

func (c *cluster) workloads() []workload {
	var out []workload
	for _, d := range all[*appsv1.Deployment](c) {
		out = append(out, workload{kind: "Deployment", name: d.Name, replicas: replicas(d.Spec.Replicas), selector: d.Spec.Selector, template: &d.Spec.Template})
	}
	for _, s := range all[*appsv1.StatefulSet](c) {
		out = append(out, workload{kind: "StatefulSet", name: s.Name, replicas: replicas(s.Spec.Replicas), selector: s.Spec.Selector,
			template: &s.Spec.Template, claims: s.Spec.VolumeClaimTemplates, sts: s})
	}
	return out
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// matches reports whether a label selector (matchLabels only) selects the
// labels.
func matches(sel *metav1.LabelSelector, labels map[string]string) bool {
	if sel == nil || len(sel.MatchLabels) == 0 || len(sel.MatchExpressions) > 0 {
		return false
	}
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func selectsMap(sel map[string]string, labels map[string]string) bool {
	return matches(&metav1.LabelSelector{MatchLabels: sel}, labels)
}

// containerPort resolves a probe's or Service's port in a container.
func containerPort(ctr *corev1.Container, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, cp := range ctr.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// TestManifests decodes every manifest strictly into its API type and checks
// what the API server would only find at apply time, or not at all.
func TestManifests(t *testing.T) {
	c := loadCluster(t)
	wantKinds := []string{"v1/Namespace", "v1/ConfigMap", "v1/Service", "v1/ServiceAccount", "apps/v1/Deployment",
		"apps/v1/StatefulSet", "policy/v1/PodDisruptionBudget", "v1/Secret"}
	for _, k := range wantKinds {
		if !slices.ContainsFunc(c.objs, func(o object) bool { return o.kind == k }) {
			t.Errorf("no %s among the manifests", k)
		}
	}
	for _, name := range []string{"graphsoar-worker", "graphsoar-poller"} {
		if _, ok := get[*appsv1.Deployment](c, name); !ok {
			t.Errorf("no Deployment %s", name)
		}
	}
	ws := c.workloads()
	for _, w := range ws {
		t.Run(w.String(), func(t *testing.T) { checkWorkload(t, c, w) })
	}
	for _, svc := range all[*corev1.Service](c) {
		checkService(t, c, ws, svc)
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](c) {
		checkPDB(t, ws, pdb)
	}
	for _, w := range ws {
		if w.replicas > 1 && !slices.ContainsFunc(all[*policyv1.PodDisruptionBudget](c), func(p *policyv1.PodDisruptionBudget) bool {
			return matches(p.Spec.Selector, w.template.Labels)
		}) {
			t.Errorf("%s: %d replicas and no PodDisruptionBudget", w, w.replicas)
		}
	}
}

func checkWorkload(t *testing.T, c *cluster, w workload) {
	pod := &w.template.Spec
	if !matches(w.selector, w.template.Labels) {
		t.Errorf("selector %v does not select the template's labels %v", w.selector, w.template.Labels)
	}
	if pod.ServiceAccountName != "" {
		if _, ok := get[*corev1.ServiceAccount](c, pod.ServiceAccountName); !ok {
			t.Errorf("ServiceAccount %s is not among the manifests", pod.ServiceAccountName)
		}
	}
	if w.replicas > 1 {
		aa := pod.Affinity
		if aa == nil || aa.PodAntiAffinity == nil {
			t.Errorf("%d replicas without pod anti-affinity", w.replicas)
		} else {
			var terms []corev1.PodAffinityTerm
			terms = append(terms, aa.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
			for _, wt := range aa.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
				terms = append(terms, wt.PodAffinityTerm)
			}
			if !slices.ContainsFunc(terms, func(term corev1.PodAffinityTerm) bool {
				return term.TopologyKey == "kubernetes.io/hostname" && matches(term.LabelSelector, w.template.Labels)
			}) {
				t.Error("no anti-affinity term spreads these pods over kubernetes.io/hostname")
			}
		}
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		// graphsoar reads every GRAPHSOAR_* variable as a flag; service
		// links add <SERVICE>_PORT=tcp://... variables for every Service.
		t.Error("enableServiceLinks is not false")
	}
	checkPodSecurity(t, pod)

	// Volumes: each exists, is mounted, and what it refers to exists.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
		switch {
		case v.ConfigMap != nil:
			data, ok := c.configMapData(v.ConfigMap.Name)
			if !ok {
				t.Errorf("volume %s: ConfigMap %s is not among the manifests or generators", v.Name, v.ConfigMap.Name)
				continue
			}
			for _, it := range v.ConfigMap.Items {
				if _, ok := data[it.Key]; !ok {
					t.Errorf("volume %s: ConfigMap %s has no key %s", v.Name, v.ConfigMap.Name, it.Key)
				}
			}
			if len(v.ConfigMap.Items) > 0 {
				for k := range data {
					if !slices.ContainsFunc(v.ConfigMap.Items, func(it corev1.KeyToPath) bool { return it.Key == k }) {
						t.Errorf("volume %s: key %s of ConfigMap %s has no item, so the pod does not see it", v.Name, k, v.ConfigMap.Name)
					}
				}
			}
		case v.Secret != nil:
			if _, ok := c.secretKeys(v.Secret.SecretName); !ok {
				t.Errorf("volume %s: Secret %s is not among the manifests", v.Name, v.Secret.SecretName)
			}
		case v.EmptyDir != nil:
		default:
			t.Errorf("volume %s: a kind of volume this test does not check", v.Name)
		}
	}
	claims := map[string]bool{}
	for _, pvc := range w.claims {
		claims[pvc.Name] = true
		if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			t.Errorf("volumeClaimTemplate %s: no storage request", pvc.Name)
		}
	}
	mounted := map[string]bool{}
	for _, ctr := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		for _, m := range ctr.VolumeMounts {
			mounted[m.Name] = true
			v, isVol := volumes[m.Name]
			if !isVol && !claims[m.Name] {
				t.Errorf("container %s mounts %s, which is neither a volume nor a volumeClaimTemplate", ctr.Name, m.Name)
				continue
			}
			if isVol && v.ConfigMap != nil {
				if !m.ReadOnly {
					t.Errorf("container %s: ConfigMap volume %s is not mounted readOnly", ctr.Name, m.Name)
				}
				if m.SubPath != "" {
					files, _ := c.projection(v)
					if _, ok := files[m.SubPath]; !ok {
						t.Errorf("container %s: subPath %s is not a file of volume %s", ctr.Name, m.SubPath, m.Name)
					}
				}
			}
		}
		checkContainer(t, c, w, pod, &ctr)
	}
	for name := range volumes {
		if !mounted[name] {
			t.Errorf("volume %s is not mounted", name)
		}
	}
	for name := range claims {
		if !mounted[name] {
			t.Errorf("volumeClaimTemplate %s is not mounted", name)
		}
	}

	// Prometheus scrape annotations point at a declared port.
	if a := w.template.Annotations; a["prometheus.io/scrape"] != "" {
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("prometheus annotations: %v", a)
		}
		port := intstr.Parse(a["prometheus.io/port"])
		if port.Type != intstr.Int || !slices.ContainsFunc(pod.Containers, func(ctr corev1.Container) bool {
			_, ok := containerPort(&ctr, port)
			return ok
		}) {
			t.Errorf("prometheus.io/port %q is not a container port", a["prometheus.io/port"])
		}
	}
}

// checkPodSecurity checks the restricted Pod Security Standard (the
// namespace enforces it) and a read-only root file system.
func checkPodSecurity(t *testing.T, pod *corev1.PodSpec) {
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("host namespaces")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s: hostPath", v.Name)
		}
	}
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	for _, ctr := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := ctr.SecurityContext
		if sc == nil {
			t.Errorf("container %s: no securityContext", ctr.Name)
			continue
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		if !nonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", ctr.Name)
		}
		if (sc.RunAsUser != nil && *sc.RunAsUser == 0) || (sc.RunAsUser == nil && psc.RunAsUser != nil && *psc.RunAsUser == 0) {
			t.Errorf("container %s: runs as uid 0", ctr.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", ctr.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s: privileged", ctr.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", ctr.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: capabilities must drop ALL and add none", ctr.Name)
		}
		sp := sc.SeccompProfile
		if sp == nil {
			sp = psc.SeccompProfile
		}
		if sp == nil || sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("container %s: seccompProfile is not RuntimeDefault", ctr.Name)
		}
	}
}

func checkContainer(t *testing.T, c *cluster, w workload, pod *corev1.PodSpec, ctr *corev1.Container) {
	// The image: pinned, after kustomize's images: substitution.
	image := ctr.Image
	for _, im := range c.kust.Images {
		if im.Name == imageName(ctr.Image) {
			image = orElse(im.NewName, imageName(ctr.Image)) + ":" + orElse(im.NewTag, imageTag(ctr.Image))
			if im.Digest != "" {
				image = orElse(im.NewName, imageName(ctr.Image)) + "@" + im.Digest
			}
		}
	}
	pin := pinned
	if imageName(ctr.Image) == "graphsoar" {
		// The image built from this repository: its digest exists only
		// once it is built and pushed (kustomization.yaml says how to pin
		// it then); a fixed tag until then.
		pin = pinnedTag
	}
	if err := pin(image); err != nil {
		t.Errorf("container %s: image %s: %v", ctr.Name, image, err)
	}

	// Resources: requests and limits of CPU and memory, requests <= limits.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := ctr.Resources.Requests[r]
		lim, okLim := ctr.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("container %s: %s request and limit must both be set", ctr.Name, r)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("container %s: %s request %s above its limit %s", ctr.Name, r, req.String(), lim.String())
		}
	}

	// Probes target declared ports.
	for name, p := range map[string]*corev1.Probe{"liveness": ctr.LivenessProbe, "readiness": ctr.ReadinessProbe, "startup": ctr.StartupProbe} {
		if p == nil {
			continue
		}
		if p.HTTPGet == nil {
			t.Errorf("container %s: %s probe is not an HTTP GET", ctr.Name, name)
			continue
		}
		if _, ok := containerPort(ctr, p.HTTPGet.Port); !ok {
			t.Errorf("container %s: %s probe port %s is not a container port", ctr.Name, name, p.HTTPGet.Port.String())
		}
	}
	if ctr.LivenessProbe == nil {
		t.Errorf("container %s: no liveness probe", ctr.Name)
	}

	// Environment: referenced Secrets, ConfigMaps and keys exist.
	for _, ef := range ctr.EnvFrom {
		switch {
		case ef.SecretRef != nil:
			if _, ok := c.secretKeys(ef.SecretRef.Name); !ok {
				t.Errorf("container %s: envFrom Secret %s is not among the manifests", ctr.Name, ef.SecretRef.Name)
			}
		case ef.ConfigMapRef != nil:
			if _, ok := c.configMapData(ef.ConfigMapRef.Name); !ok {
				t.Errorf("container %s: envFrom ConfigMap %s is not among the manifests", ctr.Name, ef.ConfigMapRef.Name)
			}
		}
	}
	for _, e := range ctr.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Optional == nil || !*r.Optional) { // an optional one may be absent
			if keys, ok := c.secretKeys(r.Name); !ok || !keys[r.Key] {
				t.Errorf("container %s: env %s: Secret %s key %s is not among the manifests", ctr.Name, e.Name, r.Name, r.Key)
			}
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			if data, ok := c.configMapData(r.Name); !ok || data[r.Key] == "" {
				t.Errorf("container %s: env %s: ConfigMap %s key %s is not among the manifests", ctr.Name, e.Name, r.Name, r.Key)
			}
		}
	}

	// GOMEMLIMIT leaves room below the memory limit.
	if v, ok := envValue(ctr, "GOMEMLIMIT"); ok {
		limit := ctr.Resources.Limits[corev1.ResourceMemory]
		n, err := parseGoMemLimit(v)
		switch {
		case err != nil:
			t.Errorf("container %s: GOMEMLIMIT %q: %v", ctr.Name, v, err)
		case float64(n) > 0.95*float64(limit.Value()) || float64(n) < 0.5*float64(limit.Value()):
			t.Errorf("container %s: GOMEMLIMIT %s is not 50-95%% of the memory limit %s", ctr.Name, v, limit.String())
		}
	}

	switch imageName(ctr.Image) {
	case "graphsoar":
		checkGraphsoarContainer(t, c, w, pod, ctr)
	case "nats":
		checkNATSContainer(t, c, w, pod, ctr)
	}
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// imageName and imageTag split an image reference (no digest).
func imageName(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return ""
}

var sha256Digest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// pinned accepts an image pinned by its digest (NAME[:TAG]@sha256:...): a
// tag can be moved to other content, a digest cannot.
func pinned(ref string) error {
	_, d, ok := strings.Cut(ref, "@")
	switch {
	case !ok:
		return errors.New("not pinned by digest (NAME@sha256:...; deploy/README.md: Image digests)")
	case !sha256Digest.MatchString(d):
		return fmt.Errorf("digest %q is not sha256: and 64 hex digits", d)
	}
	return nil
}

// pinnedTag accepts an image with a digest or a tag other than latest.
func pinnedTag(ref string) error {
	if _, _, ok := strings.Cut(ref, "@"); ok {
		return pinned(ref)
	}
	switch tag := imageTag(ref); tag {
	case "":
		return errors.New("no tag: it means latest")
	case "latest":
		return errors.New("tag latest is not pinned")
	}
	return nil
}

func envValue(ctr *corev1.Container, name string) (string, bool) {
	for _, e := range ctr.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

// parseGoMemLimit reads GOMEMLIMIT as the runtime does: bytes with an
// optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s || n <= 0 {
		return 0, errors.New("want a byte count with an optional B, KiB, MiB, GiB or TiB suffix")
	}
	return n * mult, nil
}

// projection is what a ConfigMap volume shows: file path -> content.
func (c *cluster) projection(v corev1.Volume) (map[string]string, error) {
	if v.ConfigMap == nil {
		return nil, fmt.Errorf("volume %s is not a ConfigMap", v.Name)
	}
	data, ok := c.configMapData(v.ConfigMap.Name)
	if !ok {
		return nil, fmt.Errorf("no ConfigMap %s", v.ConfigMap.Name)
	}
	if len(v.ConfigMap.Items) == 0 {
		return data, nil
	}
	files := map[string]string{}
	for _, it := range v.ConfigMap.Items {
		val, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("ConfigMap %s has no key %s", v.ConfigMap.Name, it.Key)
		}
		if !fs.ValidPath(it.Path) {
			return nil, fmt.Errorf("volume %s: item path %q", v.Name, it.Path)
		}
		files[it.Path] = val
	}
	return files, nil
}

// fileAt returns the content a container sees at an absolute path, from its
// ConfigMap mounts.
func (c *cluster) fileAt(pod *corev1.PodSpec, ctr *corev1.Container, p string) (string, error) {
	for _, m := range ctr.VolumeMounts {
		v, ok := volumeNamed(pod, m.Name)
		if !ok || v.ConfigMap == nil {
			continue
		}
		files, err := c.projection(v)
		if err != nil {
			return "", err
		}
		if m.SubPath != "" && m.MountPath == p {
			if s, ok := files[m.SubPath]; ok {
				return s, nil
			}
			return "", fmt.Errorf("%s: subPath %s is not in volume %s", p, m.SubPath, m.Name)
		}
		if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/"); ok && m.SubPath == "" {
			if s, ok := files[rel]; ok {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("container %s has no file %s mounted", ctr.Name, p)
}

// dirAt returns the files a container sees under a directory that is a
// ConfigMap mount.
func (c *cluster) dirAt(pod *corev1.PodSpec, ctr *corev1.Container, dir string) (fstest.MapFS, *corev1.VolumeMount, error) {
	for i, m := range ctr.VolumeMounts {
		if path.Clean(m.MountPath) != path.Clean(dir) || m.SubPath != "" {
			continue
		}
		v, ok := volumeNamed(pod, m.Name)
		if !ok {
			break
		}
		files, err := c.projection(v)
		if err != nil {
			return nil, nil, err
		}
		mfs := fstest.MapFS{}
		for p, s := range files {
			mfs[p] = &fstest.MapFile{Data: []byte(s), Mode: 0o444}
		}
		return mfs, &ctr.VolumeMounts[i], nil
	}
	return nil, nil, fmt.Errorf("container %s has no ConfigMap mounted at %s", ctr.Name, dir)
}

func volumeNamed(pod *corev1.PodSpec, name string) (corev1.Volume, bool) {
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return corev1.Volume{}, false
}

// envNames are the variables a container gets from its env and envFrom
// (the keys of the referenced Secrets and ConfigMaps, with their prefix).
func (c *cluster) envNames(ctr *corev1.Container) map[string]bool {
	names := map[string]bool{}
	for _, ef := range ctr.EnvFrom {
		switch {
		case ef.SecretRef != nil:
			keys, _ := c.secretKeys(ef.SecretRef.Name)
			for k := range keys {
				names[ef.Prefix+k] = true
			}
		case ef.ConfigMapRef != nil:
			data, _ := c.configMapData(ef.ConfigMapRef.Name)
			for k := range data {
				names[ef.Prefix+k] = true
			}
		}
	}
	for _, e := range ctr.Env {
		names[e.Name] = true
	}
	return names
}

func checkService(t *testing.T, c *cluster, ws []workload, svc *corev1.Service) {
	var selected []workload
	for _, w := range ws {
		if selectsMap(svc.Spec.Selector, w.template.Labels) {
			selected = append(selected, w)
		}
	}
	if len(selected) == 0 {
		t.Errorf("Service %s: selector %v selects no workload", svc.Name, svc.Spec.Selector)
		return
	}
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		for _, w := range selected {
			if !slices.ContainsFunc(w.template.Spec.Containers, func(ctr corev1.Container) bool {
				_, ok := containerPort(&ctr, target)
				return ok
			}) {
				t.Errorf("Service %s port %s: target %s is not a port of %s", svc.Name, p.Name, target.String(), w)
			}
		}
	}
}

func checkPDB(t *testing.T, ws []workload, pdb *policyv1.PodDisruptionBudget) {
	var sel []workload
	for _, w := range ws {
		if matches(pdb.Spec.Selector, w.template.Labels) {
			sel = append(sel, w)
		}
	}
	if len(sel) != 1 {
		t.Errorf("PodDisruptionBudget %s selects %d workloads, want 1", pdb.Name, len(sel))
		return
	}
	w := sel[0]
	if m := pdb.Spec.MinAvailable; m != nil && m.Type == intstr.Int && m.IntVal >= w.replicas {
		t.Errorf("PodDisruptionBudget %s: minAvailable %d with %d replicas blocks every drain", pdb.Name, m.IntVal, w.replicas)
	}
	if m := pdb.Spec.MaxUnavailable; m != nil && m.Type == intstr.Int && m.IntVal < 1 {
		t.Errorf("PodDisruptionBudget %s: maxUnavailable %d blocks every drain", pdb.Name, m.IntVal)
	}
	if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
		t.Errorf("PodDisruptionBudget %s: set one of minAvailable and maxUnavailable", pdb.Name)
	}
}

// TestStrictDecoding shows that the decoding catches the mistakes it is
// there for.
func TestStrictDecoding(t *testing.T) {
	for name, doc := range map[string]string{
		"misspelt field":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {a: b}\n",
		"wrong case":          "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80, targetport: 80}]}\n",
		"duplicate key":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\ndata: {c: d}\n",
		"unknown kind":        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
		"unquoted bool":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {prometheus.io/scrape: true}}\n",
		"wrong type":          "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: three}\n",
		"field in wrong spot": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {spec: {containers: [{name: a, image: b, port: 80}]}}}\n",
	} {
		if _, err := decodeManifests(name, []byte(doc)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	objs, err := decodeManifests("ok", []byte("# comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b}\n---\n"))
	if err != nil || len(objs) != 1 {
		t.Errorf("a valid document: %v, %d objects", err, len(objs))
	}
}
