package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dockerfile is what the tests read from the repository's Dockerfile.
type dockerfile struct {
	stages   []stage
	rulesDir string // where the final image has the rules
}

type stage struct {
	image, name  string // FROM image AS name
	instructions []instruction
}

type instruction struct {
	cmd, args string // COPY, "--from=build /out/graphsoar /graphsoar"
	line      int
}

var dockerVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// readDockerfile parses the Dockerfile: continuation lines joined, comments
// dropped, global ARG defaults expanded in FROM.
func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var df dockerfile
	args := map[string]string{}
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if rest, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(line)
		cmd, rest, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		cur.Reset()
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest), line: start}
		switch {
		case in.cmd == "ARG" && len(df.stages) == 0:
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			f = slices.DeleteFunc(f, func(s string) bool { return strings.HasPrefix(s, "--") })
			st := stage{image: dockerVar.ReplaceAllStringFunc(f[0], func(v string) string {
				return args[dockerVar.FindStringSubmatch(v)[1]]
			})}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			df.stages = append(df.stages, st)
		case len(df.stages) == 0:
			t.Errorf("Dockerfile:%d: %s before FROM", in.line, in.cmd)
		default:
			st := &df.stages[len(df.stages)-1]
			st.instructions = append(st.instructions, in)
		}
	}
	if len(df.stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a runtime stage", len(df.stages))
	}
	for _, in := range df.final().instructions {
		if in.cmd == "COPY" {
			if src, dst := copyPaths(in.args); slices.ContainsFunc(src, func(s string) bool { return strings.Contains(s, "rules") }) {
				df.rulesDir = strings.TrimSuffix(dst, "/")
			}
		}
	}
	return df
}

func (df dockerfile) final() stage { return df.stages[len(df.stages)-1] }

// copyPaths splits COPY's arguments into sources and destination (flags
// dropped).
func copyPaths(args string) (src []string, dst string) {
	f := slices.DeleteFunc(strings.Fields(args), func(s string) bool { return strings.HasPrefix(s, "--") })
	if len(f) < 2 {
		return nil, ""
	}
	return f[:len(f)-1], f[len(f)-1]
}

func copyFrom(args string) string {
	for _, f := range strings.Fields(args) {
		if v, ok := strings.CutPrefix(f, "--from="); ok {
			return v
		}
	}
	return ""
}

func (st stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range st.instructions {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (st stage) last(cmd string) (instruction, bool) {
	all := st.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// execForm reads ["a", "b"].
func execForm(t *testing.T, in instruction) []string {
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		t.Errorf("Dockerfile:%d: %s is not in exec form (a JSON array): %v", in.line, in.cmd, err)
	}
	return v
}

// TestDockerfile checks the Dockerfile: pinned base images, the Go version
// of go.mod, a static non-root build, COPY sources that exist and that
// .dockerignore keeps, an entrypoint and default command the binary accepts.
func TestDockerfile(t *testing.T) {
	df := readDockerfile(t)
	names := map[string]bool{}
	for _, st := range df.stages {
		if !names[st.image] {
			if err := pinned(st.image); err != nil {
				t.Errorf("FROM %s: %v", st.image, err)
			}
		}
		if st.name != "" {
			names[st.name] = true
		}
	}

	// The build stage: go.mod's toolchain (the golang image of its release,
	// and GOTOOLCHAIN set to it unless the image is that very version),
	// static, ./cmd/graphsoar.
	toolchain := goModToolchain(t)
	release := strings.Join(strings.SplitN(toolchain, ".", 3)[:2], ".")
	build := df.stages[0]
	if !strings.HasPrefix(imageName(build.image), "golang") || !strings.HasPrefix(imageTag(build.image), release) {
		t.Errorf("build stage FROM %s: want golang:%s (go.mod: toolchain go%s)", build.image, release, toolchain)
	}
	if imageTag(build.image) != toolchain {
		env := build.all("ENV")
		if !slices.ContainsFunc(env, func(in instruction) bool { return strings.TrimSpace(in.args) == "GOTOOLCHAIN=go"+toolchain }) {
			t.Errorf("build stage FROM %s is not go%s and sets no ENV GOTOOLCHAIN=go%s", build.image, toolchain, toolchain)
		}
	}
	var out string
	for _, in := range build.all("RUN") {
		if strings.Contains(in.args, "go build") {
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/graphsoar"} {
				if !strings.Contains(in.args, want) {
					t.Errorf("Dockerfile:%d: go build without %s", in.line, want)
				}
			}
			if m := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(in.args); m != nil {
				out = m[1]
			}
		}
	}
	if out == "" {
		t.Error("no go build -o in the build stage")
	}
	// Module download before the sources, in its own layer.
	copies := build.all("COPY")
	if len(copies) < 2 {
		t.Error("build stage: want COPY go.mod go.sum, go mod download, then COPY of the sources")
	} else if src, _ := copyPaths(copies[0].args); !slices.Equal(src, []string{"go.mod", "go.sum"}) {
		t.Errorf("Dockerfile:%d: the first COPY should be go.mod go.sum (module download layer)", copies[0].line)
	}

	// COPY sources from the context exist and are not ignored.
	ignore := readDockerignore(t)
	for _, st := range df.stages {
		for _, in := range st.all("COPY") {
			if copyFrom(in.args) != "" {
				continue
			}
			src, _ := copyPaths(in.args)
			for _, s := range src {
				matches, _ := filepath.Glob(filepath.Join(repo, s))
				if len(matches) == 0 {
					t.Errorf("Dockerfile:%d: COPY %s: not in the repository", in.line, s)
				}
				if s != "." && ignore.ignored(path.Clean(s)) {
					t.Errorf("Dockerfile:%d: COPY %s: excluded by .dockerignore", in.line, s)
				}
			}
		}
	}
	// Everything go build needs is in the context.
	for _, dir := range []string{"cmd", "internal", "rules"} {
		_ = filepath.WalkDir(filepath.Join(repo, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "testdata") {
				return err
			}
			rel, _ := filepath.Rel(repo, p)
			if ignore.ignored(filepath.ToSlash(rel)) {
				t.Errorf(".dockerignore excludes %s, which the build needs", rel)
			}
			return nil
		})
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if ignore.ignored(f) {
			t.Errorf(".dockerignore excludes %s", f)
		}
	}
	if !ignore.ignored(".git") {
		t.Error(".dockerignore keeps .git")
	}

	// The runtime stage: distroless, non-root, /graphsoar with a valid CMD.
	final := df.final()
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") {
		t.Errorf("runtime FROM %s: want gcr.io/distroless/static (the binary is static)", final.image)
	}
	user, ok := final.last("USER")
	if uid, _, _ := strings.Cut(user.args, ":"); !ok || uid == "0" || uid == "root" {
		t.Errorf("runtime USER %q: want a non-root user", user.args)
	} else if _, err := strconv.Atoi(uid); err != nil {
		t.Errorf("runtime USER %q: use a numeric uid, which Kubernetes' runAsNonRoot can verify", user.args)
	}
	ep, ok := final.last("ENTRYPOINT")
	var entry []string
	if ok {
		entry = execForm(t, ep)
	}
	if !slices.Equal(entry, []string{"/graphsoar"}) {
		t.Errorf("ENTRYPOINT %v: want [\"/graphsoar\"]", entry)
	}
	if !slices.ContainsFunc(final.all("COPY"), func(in instruction) bool {
		src, dst := copyPaths(in.args)
		return names[copyFrom(in.args)] && slices.Equal(src, []string{out}) && dst == "/graphsoar"
	}) {
		t.Errorf("the runtime stage does not copy the build's %s to /graphsoar", out)
	}
	if df.rulesDir != "/etc/graphsoar/rules" {
		t.Errorf("the image has its rules at %q, want /etc/graphsoar/rules (what the manifests and docs mount over)", df.rulesDir)
	}
	cmdIn, ok := final.last("CMD")
	if !ok {
		t.Fatal("no CMD")
	}
	inv, err := graphsoarCLI(t).parseArgs(execForm(t, cmdIn))
	if err != nil {
		t.Errorf("CMD: %v", err)
	} else {
		if inv.flags["rules"] != df.rulesDir {
			t.Errorf("CMD --rules %q, the image has its rules at %s", inv.flags["rules"], df.rulesDir)
		}
		_, port, _ := strings.Cut(inv.flags["listen"], ":")
		expose, _ := final.last("EXPOSE")
		if port == "" || !slices.Contains(strings.Fields(expose.args), port) {
			t.Errorf("CMD --listen %q, EXPOSE %q", inv.flags["listen"], expose.args)
		}
	}
	labels := strings.Join(func() (s []string) {
		for _, in := range final.all("LABEL") {
			s = append(s, in.args)
		}
		return s
	}(), " ")
	for _, l := range []string{"org.opencontainers.image.source", "org.opencontainers.image.title"} {
		if !strings.Contains(labels, l+"=") {
			t.Errorf("no label %s", l)
		}
	}

	// The build copies the top-level *.yaml rule files and lists/: every
	// rule file of rules/ must be one of those to reach the image.
	for rel := range ruleTree(t, filepath.Join(repo, "rules")) {
		if !strings.HasPrefix(rel, "lists/") && (strings.Contains(rel, "/") || !strings.HasSuffix(rel, ".yaml")) {
			t.Errorf("rules/%s: the Dockerfile copies only rules/*.yaml and rules/lists/", rel)
		}
	}
}

// goModToolchain is go.mod's toolchain (1.27.3), or its go directive when
// it has no toolchain line.
func goModToolchain(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^toolchain go(\d+\.\d+(?:\.\d+)?)\s*$`).FindSubmatch(data); m != nil {
		return string(m[1])
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(?:\.\d+)?)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// dockerignore matches paths as Docker does: patterns relative to the
// context root, * and ? within a path element, ** across elements, a
// matching directory excludes what is under it, ! re-includes, last match
// wins.
type dockerignore []struct {
	re      *regexp.Regexp
	exclude bool
}

func readDockerignore(t *testing.T) dockerignore {
	data, err := os.ReadFile(filepath.Join(repo, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exclude := true
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			line, exclude = rest, false
		}
		line = strings.TrimPrefix(path.Clean("/"+line), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(line); i++ {
			switch c := line[i]; {
			case strings.HasPrefix(line[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(line[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re      *regexp.Regexp
			exclude bool
		}{regexp.MustCompile(re.String()), exclude})
	}
	return d
}

func (d dockerignore) ignored(p string) bool {
	// p or one of its parent directories
	var candidates []string
	for q := p; q != "." && q != "/" && q != ""; q = path.Dir(q) {
		candidates = append(candidates, q)
	}
	ignored := false
	for _, pat := range d {
		if slices.ContainsFunc(candidates, pat.re.MatchString) {
			ignored = pat.exclude
		}
	}
	return ignored
}
