package deploy_test

import (
	"bytes"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/graphsoar/graphsoar/internal/config"
	"github.com/graphsoar/graphsoar/internal/rules"
)

// checkGraphsoarContainer checks a container of the graphsoar image against
// the binary: its command line, its configuration file as the container
// sees it (loaded and validated with internal/config, with the variables the
// container's environment provides), its rules, ports and probes.
func checkGraphsoarContainer(t *testing.T, c *cluster, w workload, pod *corev1.PodSpec, ctr *corev1.Container) {
	cli := graphsoarCLI(t)
	if len(ctr.Command) > 0 {
		t.Errorf("container %s: command overrides the image's ENTRYPOINT /graphsoar; use args", ctr.Name)
	}
	inv, err := cli.parseArgs(ctr.Args)
	if err != nil {
		t.Errorf("container %s: args %q: %v", ctr.Name, ctr.Args, err)
		return
	}
	for name := range c.envNames(ctr) {
		if strings.HasPrefix(name, "GRAPHSOAR_") && !cli.knowsEnv(inv.command, name) {
			t.Errorf("container %s: %s is neither a flag's variable nor one graphsoar %s reads", ctr.Name, name, inv.command)
		}
	}
	if _, ok := envValue(ctr, "GOMEMLIMIT"); !ok {
		t.Errorf("container %s: no GOMEMLIMIT (docs/OPERATIONS.md: about 80%% of the memory limit)", ctr.Name)
	}
	if inv.command != "run" && inv.command != "poll" {
		return
	}
	cfg, ok := containerConfig(t, c, pod, ctr, inv)
	if !ok {
		return
	}

	// /metrics, /healthz, /readyz: the address the config file gives.
	listen := cfg.Listen
	if v, ok := inv.flags["listen"]; ok {
		listen = v
	}
	_, portStr, err := net.SplitHostPort(listen)
	port, _ := strconv.Atoi(portStr)
	if err != nil || port == 0 {
		t.Errorf("container %s: listen %q: want :PORT for the probes", ctr.Name, listen)
		return
	}
	cp, ok := containerPort(ctr, intstr.FromInt(port))
	if !ok {
		t.Errorf("container %s: listens on %d, which is not a container port", ctr.Name, port)
	}
	probe := func(kind string, p *corev1.Probe, want string, required bool) {
		switch {
		case p == nil && required:
			t.Errorf("container %s: no %s probe (%s)", ctr.Name, kind, want)
		case p == nil:
		case p.HTTPGet == nil || p.HTTPGet.Path != want:
			t.Errorf("container %s: %s probe should GET %s", ctr.Name, kind, want)
		default:
			if got, ok := containerPort(ctr, p.HTTPGet.Port); !ok || got.ContainerPort != cp.ContainerPort {
				t.Errorf("container %s: %s probe on port %s, graphsoar listens on %d", ctr.Name, kind, p.HTTPGet.Port.String(), port)
			}
		}
	}
	probe("liveness", ctr.LivenessProbe, "/healthz", true)
	probe("startup", ctr.StartupProbe, "/healthz", false)
	// The worker is ready when it consumes; the producer's /readyz checks NATS.
	probe("readiness", ctr.ReadinessProbe, "/readyz", inv.command == "run")
	if a := w.template.Annotations["prometheus.io/port"]; a != "" && a != strconv.Itoa(port) {
		t.Errorf("prometheus.io/port %s, graphsoar listens on %d", a, port)
	}

	// NATS: the URL names a Service of the manifests, on one of its ports.
	for _, u := range strings.Split(cfg.NATS.URL, ",") {
		checkNATSURL(t, c, cfg, strings.TrimSpace(u))
	}

	if inv.command == "run" {
		rulesDir := cfg.Rules
		if v, ok := inv.flags["rules"]; ok {
			rulesDir = v
		}
		mfs, mount, err := c.dirAt(pod, ctr, rulesDir)
		if err != nil {
			t.Errorf("rules: %v", err)
		} else {
			if !mount.ReadOnly {
				t.Errorf("the rules at %s are not mounted readOnly", rulesDir)
			}
			rs, err := rules.Load(kubeletLayout(t, mfs), nil)
			if err != nil {
				t.Errorf("the rules the worker sees at %s do not load:\n%v", rulesDir, err)
			} else if len(rs.Rules()) == 0 {
				t.Errorf("no rules at %s", rulesDir)
			}
		}
		grace := time.Duration(30) * time.Second
		if pod.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
		}
		if grace < cfg.Worker.DrainTimeout+5*time.Second {
			t.Errorf("terminationGracePeriodSeconds %v is not above worker.drainTimeout %v (+5s to exit): a rollout would cut the drain short",
				grace, cfg.Worker.DrainTimeout)
		}
		if w.replicas > int32(cfg.NATS.Partitions) {
			t.Errorf("%d worker replicas for %d partitions: the extra replicas only stand by", w.replicas, cfg.NATS.Partitions)
		}
	}
}

// containerConfig loads the configuration file a run or poll container
// reads, as it sees it.
func containerConfig(t *testing.T, c *cluster, pod *corev1.PodSpec, ctr *corev1.Container, inv invocation) (config.Config, bool) {
	file, ok := inv.flags["config"]
	if !ok {
		t.Errorf("container %s: no --config", ctr.Name)
		return config.Config{}, false
	}
	content, err := c.fileAt(pod, ctr, file)
	if err != nil {
		t.Errorf("--config %s: %v", file, err)
		return config.Config{}, false
	}
	// The certificate files of Secret mounts exist only in the cluster: the
	// configuration refers to generated stand-ins (config.Validate reads them).
	content = secretStandIns(t, c, pod, ctr).Replace(content)
	tmp := filepath.Join(t.TempDir(), path.Base(file))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// The variables the container has: ${VAR} in the file must be among them
	// (an unset one stops graphsoar at start). Values are the example
	// Secret's, or placeholders.
	provided := c.envNames(ctr)
	example := map[string]string{}
	if s, ok := get[*corev1.Secret](c, "graphsoar-graph"); ok {
		example = s.StringData
	}
	getenv := func(name string) string {
		switch {
		case !provided[name]:
			return ""
		case example[name] != "":
			return example[name]
		}
		if v, ok := envValue(ctr, name); ok {
			return v
		}
		return "placeholder-" + name
	}
	cfg, err := config.Load(tmp, getenv)
	if err != nil {
		t.Errorf("container %s: %s does not load: %v", ctr.Name, file, err)
		return cfg, false
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("container %s: %s is not valid: %v", ctr.Name, file, err)
		return cfg, false
	}
	return cfg, true
}

// checkNATSURL checks that a NATS URL reaches a Service of the manifests.
func checkNATSURL(t *testing.T, c *cluster, cfg config.Config, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" {
		t.Errorf("nats.url %q: want nats://HOST:PORT", raw)
		return
	}
	port := 4222
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	// SERVICE, SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc[.cluster.local]
	parts := strings.Split(u.Hostname(), ".")
	ns := c.kust.Namespace
	if len(parts) > 1 {
		ns = parts[1]
	}
	if len(parts) > 2 && (parts[2] != "svc" || (len(parts) > 3 && strings.Join(parts[3:], ".") != "cluster.local")) {
		t.Errorf("nats.url %q: host is not a Service name", raw)
		return
	}
	if ns != c.kust.Namespace {
		t.Errorf("nats.url %q: namespace %s, the manifests deploy to %s", raw, ns, c.kust.Namespace)
	}
	svc, ok := get[*corev1.Service](c, parts[0])
	if !ok {
		t.Errorf("nats.url %q: no Service %s among the manifests", raw, parts[0])
		return
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return int(p.Port) == port }) {
		t.Errorf("nats.url %q: Service %s has no port %d", raw, svc.Name, port)
	}
	for _, w := range c.workloads() {
		if selectsMap(svc.Spec.Selector, w.template.Labels) && w.kind == "StatefulSet" && int32(cfg.NATS.Replicas) > w.replicas {
			t.Errorf("nats.replicas %d, but %s has %d servers", cfg.NATS.Replicas, w, w.replicas)
		}
	}
}

// workerConfig is the configuration of the graphsoar-worker Deployment.
func workerConfig(t *testing.T) config.Config {
	t.Helper()
	c := loadCluster(t)
	for _, w := range c.workloads() {
		if w.name != "graphsoar-worker" {
			continue
		}
		ctr := &w.template.Spec.Containers[0]
		inv, err := graphsoarCLI(t).parseArgs(ctr.Args)
		if err != nil {
			t.Fatal(err)
		}
		cfg, ok := containerConfig(t, c, &w.template.Spec, ctr, inv)
		if !ok {
			t.FailNow()
		}
		return cfg
	}
	t.Fatal("no Deployment graphsoar-worker")
	return config.Config{}
}

// ruleTree reads a rules directory as graphsoar loads it: rule files and
// their lists, without rule tests (*_test.yaml), testdata, hidden entries
// and Go files.
func ruleTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != dir && (strings.HasPrefix(name, ".") || (d.IsDir() && name == "testdata")) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.HasSuffix(name, "_test.yaml") || strings.HasSuffix(name, "_test.yml") || strings.HasSuffix(name, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRules checks that the rules ConfigMap is the repository's starter
// rules: kustomize cannot read ../../rules (its default load restrictor keeps
// it inside deploy/kubernetes), so deploy/kubernetes/rules/ holds copies.
// With -update they are rewritten from rules/.
func TestRules(t *testing.T) {
	src := filepath.Join(repo, "rules")
	dst := filepath.Join(k8sDir, "rules")
	want := ruleTree(t, src)
	if *update {
		for rel := range ruleTree(t, dst) {
			if _, ok := want[rel]; !ok {
				if err := os.Remove(filepath.Join(dst, rel)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for rel, b := range want {
			p := filepath.Join(dst, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := ruleTree(t, dst)
	for rel, b := range want {
		switch g, ok := got[rel]; {
		case !ok:
			t.Errorf("deploy/kubernetes/rules/%s is missing (go test ./deploy -run TestRules -update)", rel)
		case !bytes.Equal(g, b):
			t.Errorf("deploy/kubernetes/rules/%s differs from rules/%s (go test ./deploy -run TestRules -update)", rel, rel)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("deploy/kubernetes/rules/%s is not in rules/ (go test ./deploy -run TestRules -update)", rel)
		}
	}

	// The generator takes every copy, and the worker's volume puts each at
	// its path, so the pod sees exactly rules/.
	c := loadCluster(t)
	var gen map[string]string
	for name, keys := range c.generated {
		for _, f := range keys {
			if strings.HasPrefix(f, "rules/") {
				gen = c.generated[name]
			}
		}
	}
	if gen == nil {
		t.Fatal("kustomization.yaml generates no ConfigMap from rules/")
	}
	var files []string
	for _, f := range gen {
		files = append(files, strings.TrimPrefix(f, "rules/"))
	}
	for rel := range got {
		if !slices.Contains(files, rel) {
			t.Errorf("kustomization.yaml: configMapGenerator does not take rules/%s", rel)
		}
	}
	w, ok := func() (workload, bool) {
		for _, w := range c.workloads() {
			if w.name == "graphsoar-worker" {
				return w, true
			}
		}
		return workload{}, false
	}()
	if !ok {
		t.Fatal("no graphsoar-worker")
	}
	ctr := &w.template.Spec.Containers[0]
	cfg := workerConfig(t)
	mfs, _, err := c.dirAt(&w.template.Spec, ctr, cfg.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for rel, b := range want {
		if f, ok := mfs[rel]; !ok || !bytes.Equal(f.Data, b) {
			t.Errorf("the worker does not see rules/%s at %s/%s (an item of the rules volume in worker.yaml?)", rel, cfg.Rules, rel)
		}
	}
	for rel := range mfs {
		if _, ok := want[rel]; !ok {
			t.Errorf("the worker sees %s/%s, which is not in rules/", cfg.Rules, rel)
		}
	}
	repoRules, err := rules.Load(src, nil)
	if err != nil {
		t.Fatalf("rules/: %v", err)
	}
	podRules, err := rules.Load(kubeletLayout(t, mfs), nil)
	if err != nil {
		t.Fatalf("the worker's rules, laid out as the kubelet does: %v", err)
	}
	ids := func(rs *rules.RuleSet) (out []string) {
		for _, r := range rs.Rules() {
			out = append(out, r.ID)
		}
		return out
	}
	if !slices.Equal(ids(repoRules), ids(podRules)) {
		t.Errorf("rule ids: rules/ %v, the worker's %v", ids(repoRules), ids(podRules))
	}
}

// kubeletLayout writes files as the kubelet lays out a ConfigMap volume: the
// files in a hidden timestamped directory, a ..data symlink to it, and a
// symlink per top-level entry (lists -> ..data/lists), so that the loader
// meets the symlinks it meets in the pod.
func kubeletLayout(t *testing.T, files fstest.MapFS) string {
	t.Helper()
	dir := t.TempDir()
	ts := "..2026_01_01_00_00_00.000000001"
	top := map[string]bool{}
	for p, f := range files {
		dst := filepath.Join(dir, ts, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, f.Data, 0o444); err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(p, "/")
		top[first] = true
	}
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range top {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
