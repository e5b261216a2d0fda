package deploy_test

import (
	"bytes"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/fixtures"
)

// composeFile holds the docker compose fields docker-compose.yaml uses;
// KnownFields rejects any other (a misspelt key would otherwise be ignored by
// this test, though compose itself would reject it).
type composeFile struct {
	Name       string                    `yaml:"name"`
	XGraphsoar yaml.Node                 `yaml:"x-graphsoar"` // the anchor merged into the graphsoar services
	Services   map[string]composeService `yaml:"services"`
	Volumes    map[string]struct{}       `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
	Restart  string `yaml:"restart"`
	ReadOnly bool   `yaml:"read_only"`
}

// TestCompose checks docker-compose.yaml: strict decoding, graphsoar
// commands and flags that exist, and the wiring between the services (the
// emulator reachable from the others, the worker's rules where the image
// puts them, the producer's tenant among the emulator's incidents).
func TestCompose(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cf composeFile
	if err := dec.Decode(&cf); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	cli := graphsoarCLI(t)
	img := readDockerfile(t)

	invs := map[string]invocation{}
	for name, s := range cf.Services {
		if s.Image == "" {
			t.Errorf("service %s: no image", name)
		}
		for dep, d := range s.DependsOn {
			target, ok := cf.Services[dep]
			switch {
			case !ok:
				t.Errorf("service %s depends on %s, which is not a service", name, dep)
			case d.Condition == "service_healthy" && target.Healthcheck == nil:
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			case d.Condition != "service_healthy" && d.Condition != "service_started" && d.Condition != "service_completed_successfully":
				t.Errorf("service %s: depends_on condition %q", name, d.Condition)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.ContainsAny(src, "./") {
				if _, ok := cf.Volumes[src]; !ok {
					t.Errorf("service %s: volume %s is not declared", name, src)
				}
			}
		}
		if s.Healthcheck != nil && len(s.Healthcheck.Test) > 0 && s.Healthcheck.Test[0] == "CMD-SHELL" && s.Build != nil {
			t.Errorf("service %s: CMD-SHELL healthcheck on the distroless image, which has no shell", name)
		}
		if s.Build == nil {
			if err := pinned(s.Image); err != nil {
				t.Errorf("service %s: image %s: %v", name, s.Image, err)
			}
			continue
		}
		// A graphsoar service: built from the repository's Dockerfile.
		ctx := filepath.Join(".", s.Build.Context)
		if abs, _ := filepath.Abs(ctx); abs != mustAbs(t, repo) {
			t.Errorf("service %s: build context %s is not the repository root", name, s.Build.Context)
		}
		if _, err := os.Stat(filepath.Join(ctx, orElse(s.Build.Dockerfile, "Dockerfile"))); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		if s.Healthcheck != nil {
			t.Errorf("service %s: the distroless image has no shell or HTTP client for a healthcheck", name)
		}
		inv, err := cli.parseArgs(s.Command)
		if err != nil {
			t.Errorf("service %s: command %q: %v", name, s.Command, err)
			continue
		}
		invs[name] = inv
		for k := range s.Environment {
			if strings.HasPrefix(k, "GRAPHSOAR_") && !cli.knowsEnv(inv.command, k) {
				t.Errorf("service %s: %s means nothing to graphsoar %s", name, k, inv.command)
			}
		}
		if l, ok := inv.flags["listen"]; ok {
			_, port, _ := net.SplitHostPort(l)
			for _, p := range s.Ports {
				if parts := strings.Split(p, ":"); parts[len(parts)-1] != port {
					t.Errorf("service %s publishes %s, graphsoar listens on %s", name, p, l)
				}
			}
		}
	}

	// The emulator listens where the others look for it, on every interface.
	var emulator string
	for name, inv := range invs {
		if inv.command != "graph-emulator" {
			continue
		}
		emulator = name
		host, port, err := net.SplitHostPort(inv.flags["listen"])
		if err != nil || (host != "0.0.0.0" && host != "" && host != "::") {
			t.Errorf("service %s: --listen %q: the other containers reach it only on 0.0.0.0", name, inv.flags["listen"])
		}
		if !inv.has("open") {
			t.Errorf("service %s: without --open the emulator wants bearer tokens that --auth none does not send", name)
		}
		for other, oi := range invs {
			if oi.command != "run" && oi.command != "poll" {
				continue
			}
			u, err := url.Parse(oi.flags["graph-url"])
			if err != nil || u.Hostname() != name || u.Port() != port {
				t.Errorf("service %s: --graph-url %q, the emulator is http://%s:%s", other, oi.flags["graph-url"], name, port)
			}
			if _, ok := cf.Services[other].DependsOn[name]; !ok {
				t.Errorf("service %s does not depend on %s", other, name)
			}
		}
	}
	if emulator == "" {
		t.Error("no graph-emulator service")
	}

	for name, inv := range invs {
		switch inv.command {
		case "run", "poll":
			u, err := url.Parse(inv.flags["nats-url"])
			nats, ok := cf.Services[u.Hostname()]
			if err != nil || !ok || u.Port() != "4222" || !slices.Contains(nats.Command, "-js") {
				t.Errorf("service %s: --nats-url %q is not a service running NATS with JetStream on 4222", name, inv.flags["nats-url"])
			} else if d := cf.Services[name].DependsOn[u.Hostname()]; d.Condition != "service_healthy" {
				t.Errorf("service %s starts before NATS is healthy: graphsoar exits when its first connection fails", name)
			}
			if inv.flags["auth"] != "none" {
				t.Errorf("service %s: --auth %q; the emulator takes none", name, inv.flags["auth"])
			}
		}
		switch inv.command {
		case "run":
			if inv.flags["rules"] != img.rulesDir {
				t.Errorf("service %s: --rules %q, the image has its rules at %s", name, inv.flags["rules"], img.rulesDir)
			}
		case "poll":
			if _, err := time.Parse(time.RFC3339, inv.flags["since"]); inv.has("since") && err != nil {
				t.Errorf("service %s: --since: %v", name, err)
			}
			for _, tenant := range inv.repeats["tenant"] {
				if !fixturesHaveTenant(t, tenant) {
					t.Errorf("service %s: --tenant %s has no incidents in the emulator's sample data", name, tenant)
				}
			}
		}
	}

	// NATS: JetStream stores in a volume; the healthcheck asks its monitoring port.
	for name, s := range cf.Services {
		if !slices.Contains(s.Command, "-js") {
			continue
		}
		sd := argAfter(s.Command, "-sd")
		if sd == "" || !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":"+sd) }) {
			t.Errorf("service %s: the JetStream store (-sd %q) is not on a volume", name, sd)
		}
		if m := argAfter(s.Command, "-m"); s.Healthcheck == nil || m == "" ||
			!slices.ContainsFunc(s.Healthcheck.Test, func(a string) bool { return strings.Contains(a, ":"+m+"/healthz") }) {
			t.Errorf("service %s: the healthcheck should ask /healthz on the monitoring port (-m)", name)
		}
	}
}

func (inv invocation) has(flag string) bool { _, ok := inv.flags[flag]; return ok }

func argAfter(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// fixturesHaveTenant reports whether the emulator's seed (internal/fixtures)
// has incidents of a tenant.
func fixturesHaveTenant(t *testing.T, tenant string) bool {
	found := false
	err := fs.WalkDir(fixtures.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fixtures.FS(), p)
		if bytes.Contains(b, []byte(`"`+tenant+`"`)) {
			found = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
