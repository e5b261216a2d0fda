package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphsoar/graphsoar/internal/fixtures"
	"github.com/graphsoar/graphsoar/internal/graph"
)

var update = flag.Bool("update", false, "rewrite docs/rules.schema.json")

type result struct {
	out, err string
	code     int
}

// cli runs one command line in-process, as main would.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	code := exitCode(err, &errb)
	return result{out: out.String(), err: errb.String(), code: code}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// compactJSON puts a JSON document on one line (for JSON Lines input).
func compactJSON(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func fixtureFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, fixtures.Read(name), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if r := cli(t, nil, "", "validate", "--rules", "../../rules"); r.code != 0 || !strings.Contains(r.err, "ok") {
		t.Errorf("starter rules: exit %d\n%s%s", r.code, r.out, r.err)
	}
	dir := writeFiles(t, map[string]string{
		"a.yaml": "rules:\n  - id: r\n    order: 1\n    when: incident.severty == \"high\"\n    actions:\n      - set_status: closed\n",
	})
	r := cli(t, nil, "", "validate", "--rules", dir)
	want := filepath.Join(dir, "a.yaml") + `:4:20: type incident.Incident has no field severty (did you mean "severity"?)` + "\n" +
		filepath.Join(dir, "a.yaml") + `:6:21: set_status: status: "closed" is not one of active, inProgress, resolved` + "\n"
	if r.code != 1 || r.out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", r.code, r.out, want)
	}
	if r := cli(t, nil, "", "validate", "--bogus"); r.code != 2 {
		t.Errorf("unknown flag: exit %d", r.code)
	}
}

func TestValidateWarnings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   map[string]string
		code    int
		out     string // standard output; {dir}/ stands for the rules directory
		err     string // standard error
		summary string // standard error's last line, without "{dir}: "
	}{
		{"warnings only", map[string]string{"a.yaml": `lists:
  devices: [rt-01, rt-01]
  spare: [x]
rules:
  - {id: catch-all, order: 1, when: 'true', stop: true}
  - {id: vip, order: 2, when: '"rt-01" in lists.devices', actions: [{tag: vip}]}
  - {id: old, order: 3, expires: 2020-01-01, when: 'true', actions: [{tag: old}]}
  - {id: off, order: 4, enabled: false, when: 'true', actions: [{tag: off}]}
`}, 0, "", `{dir}/a.yaml:2:20: warning: lists.devices: "rt-01" is listed twice (first at {dir}/a.yaml:2:13)
{dir}/a.yaml:3:3: warning: list "spare" is not used: no rule's condition or template reads lists.spare
{dir}/a.yaml:6:10: warning: rule "vip" can never run: rule "catch-all" at {dir}/a.yaml:5:10 comes first (order 1), matches every incident (when: true) on the change types vip runs on, and has stop: true
{dir}/a.yaml:7:34: warning: rule "old" expired at 2020-01-01T00:00:00Z and is skipped
`, "4 rules, 2 lists in 1 files: ok, 4 warnings"},
		{"one warning", map[string]string{"a.yaml": "lists:\n  spare: [x]\nrules:\n  - {id: r, order: 1, when: 'true', actions: [{tag: x}]}\n"},
			0, "", "{dir}/a.yaml:2:3: warning: list \"spare\" is not used: no rule's condition or template reads lists.spare\n", "1 rules, 1 lists in 1 files: ok, 1 warning"},
		{"errors are not warnings", map[string]string{"a.yaml": `lists:
  spare: [x]
rules:
  - {id: r, order: 1, when: 'true', actions: [{classify: {classification: falsePositive, determination: clean}}]}
  - {id: s, order: 2, when: 'true', actions: [{block_file_hash: {hashes: "{{ fileHashes(incident) }}", mode: Blok, expires: 30d}}]}
`}, 1, `{dir}/a.yaml:4:105: classify: determination: "clean" is the name on Microsoft's incident page; Graph calls it "notMalicious"
{dir}/a.yaml:5:110: block_file_hash: mode: "Blok" is not one of BlockAndRemediate, Block, AlertAndBlock, Audit, Alert (did you mean "Block"?)
{dir}/a.yaml:5:125: block_file_hash: expires: "30d" is not a duration such as 720h, an RFC 3339 time or a date such as 2027-01-01 (a duration has no d unit: write 720h for 30 days)
`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tt.files)
			expand := func(s string) string { return strings.ReplaceAll(s, "{dir}/", dir+string(filepath.Separator)) }
			wantErr := expand(tt.err)
			if tt.summary != "" {
				wantErr += dir + ": " + tt.summary + "\n"
			}
			r := cli(t, nil, "", "validate", "--rules", dir)
			if r.code != tt.code || r.out != expand(tt.out) || r.err != wantErr {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.out, r.err, tt.code, expand(tt.out), wantErr)
			}
		})
	}
	r := cli(t, nil, "", "validate", "--rules", "../../rules")
	if r.code != 0 || strings.Contains(r.err, "warning:") || !strings.HasSuffix(r.err, " files: ok\n") {
		t.Errorf("starter rules: exit %d, stderr %q", r.code, r.err)
	}
}

func TestEnvironmentBinding(t *testing.T) {
	t.Parallel()
	bad := writeFiles(t, map[string]string{"a.yaml": "rules: 5\n"})
	if r := cli(t, map[string]string{"GRAPHSOAR_RULES": bad}, "", "validate"); r.code != 1 {
		t.Errorf("GRAPHSOAR_RULES not used: exit %d %s", r.code, r.err)
	}
	if r := cli(t, map[string]string{"GRAPHSOAR_RULES": bad}, "", "validate", "--rules", "../../rules"); r.code != 0 {
		t.Errorf("the flag must win over the environment: exit %d %s%s", r.code, r.out, r.err)
	}
}

// plan is the JSON contract of eval.
type plan struct {
	Incident string `json:"incident"`
	Tenant   string `json:"tenant"`
	Matches  []struct {
		Rule    string `json:"rule"`
		Actions []struct {
			Type   string         `json:"type"`
			Params map[string]any `json:"params"`
		} `json:"actions"`
	} `json:"matches"`
}

func TestEvalJSON(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "eval", "--rules", "../../rules", "--event", fixtureFile(t, "redteam-created.json"), "--format", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	var p plan
	if err := json.Unmarshal([]byte(r.out), &p); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if p.Incident != "4212" || p.Tenant != "3f2c1a9e-7b44-4d6a-9c1e-5a8b2f0d4e71" || len(p.Matches) != 1 || p.Matches[0].Rule != "close-red-team-tests" {
		t.Fatalf("plan %+v", p)
	}
	a := p.Matches[0].Actions
	if a[0].Type != "classify" || a[0].Params["classification"] != "informationalExpectedActivity" || a[1].Params["status"] != "resolved" {
		t.Errorf("actions %+v", a)
	}
	if tags, _ := a[2].Params["tags"].([]any); len(tags) != 1 || tags[0] != "red-team" {
		t.Errorf("tag params %+v: a list must stay a list", a[2].Params)
	}
}

func TestEvalText(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "eval", "--rules", "../../rules", "--event", fixtureFile(t, "phishing-created.json"))
	for _, want := range []string{"incident 4213", "match phishing-triage", "set_status", "status=inProgress"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.out)
		}
	}
}

func TestEvalJSONLines(t *testing.T) {
	t.Parallel()
	compact := func(name string) string { return compactJSON(t, fixtures.Read(name)) }
	stdin := compact("ransomware-created.json") + "\n" +
		`{"specversion":"1.0","id":"broken-1","type":"com.microsoft.graph.security.incident.created","data":{"id":"9","severity":5}}` + "\n" +
		"\n" + compact("redteam-created.json") + "\n" +
		compact("thin-reference.json") + "\n"
	r := cli(t, nil, stdin, "eval", "--rules", "../../rules", "--event", "-", "--format", "json")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 for the bad lines", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d plans, want 2:\n%s", len(lines), r.out)
	}
	for i, want := range []string{"4211", "4212"} {
		var p plan
		if err := json.Unmarshal([]byte(lines[i]), &p); err != nil || p.Incident != want {
			t.Errorf("line %d: %v %+v", i, err, p)
		}
	}
	for _, want := range []string{
		"stdin:2: event broken-1: data.severity: cannot use JSON number as string",
		"stdin:5: event b6f7c0de-0005 names incident 4213 without its data",
		"2 of 4 events could not be evaluated", // the blank line is no event
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"specversion":"1.0","id":"e9","type":"x","data":{"id":"1"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--event", bad}, 1, `bad.json: event e9: type: "x" is not`},
		{[]string{}, 2, "--event is required"},
		{[]string{"--event", bad, "--format", "yaml"}, 2, `--format: "yaml" is not json or text`},
		{[]string{"--event", bad, "--rules", "/nonexistent"}, 1, "rules not valid"},
	} {
		r := cli(t, nil, "", append([]string{"eval", "--rules", "../../rules"}, tt.args...)...)
		if r.code != tt.code || !strings.Contains(r.err, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, r.code, r.err, tt.code, tt.want)
		}
	}
}

func TestRuleTestCommand(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "test", "--rules", "../../rules")
	if r.code != 0 || !strings.Contains(r.out, "rule tests passed") {
		t.Fatalf("starter rule tests: exit %d\n%s%s", r.code, r.out, r.err)
	}
	dir := writeFiles(t, map[string]string{
		"r.yaml":            "rules:\n  - {id: r, order: 1, when: 'true', actions: [{tag: x}]}\n",
		"cases/a_test.yaml": "tests:\n  - name: expects nothing\n    event: ev.json\n    expect: {matches: []}\n",
		"cases/ev.json":     string(fixtures.Read("redteam-created.json")),
	})
	r = cli(t, nil, "", "test", "--rules", dir, filepath.Join(dir, "cases"))
	if r.code != 1 || !strings.Contains(r.out, "FAIL") || !strings.Contains(r.out, "  + match r") {
		t.Errorf("failing test: exit %d\n%s", r.code, r.out)
	}
	r = cli(t, nil, "", "test", "--rules", dir, filepath.Join(dir, "cases"), "--run", "nothing-matches-this")
	if r.code != 1 || !strings.Contains(r.err, "no rule tests") {
		t.Errorf("no cases selected: exit %d %s", r.code, r.err)
	}
}

func TestSchema(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "", "schema")
	var s map[string]any
	if err := json.Unmarshal([]byte(r.out), &s); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v", r.code, err)
	}
	for _, name := range []string{"classify", "set_status", "assign", "tag", "comment", "block_file_hash", "informationalExpectedActivity"} {
		if !strings.Contains(r.out, `"`+name+`"`) {
			t.Errorf("schema lacks %q", name)
		}
	}
	const committed = "../../docs/rules.schema.json"
	if *update {
		if err := os.WriteFile(committed, []byte(r.out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(committed)
	if err != nil || string(b) != r.out {
		t.Errorf("%s is stale (go test ./cmd/graphsoar -run TestSchema -update): %v", committed, err)
	}
}

func TestExitCodePrintsOnce(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if code := exitCode(&exitError{code: 3, err: errors.New("boom")}, &b); code != 3 || b.String() != "graphsoar: boom\n" {
		t.Errorf("code %d output %q", code, b.String())
	}
	b.Reset()
	if code := exitCode(&exitError{code: 1}, &b); code != 1 || b.Len() != 0 {
		t.Errorf("silent exit: code %d output %q", code, b.String())
	}
}

func TestGraphEmulatorCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := freeAddr(t)
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"graph-emulator", "--listen", addr, "--open", "--rate-limit", "100/1s"}, func(string) string { return "" }, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	}()
	var resp *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		resp, err = http.Get("http://" + addr + "/v1.0/security/incidents/4211?$expand=alerts")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("emulator not serving: %v (%s)", err, errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var inc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&inc); err != nil || inc["id"] != "4211" {
		t.Errorf("GET 4211: %v %v", err, inc["id"])
	}
	resp.Body.Close()
	// The banner follows the start of serving: wait for it.
	waitUntil(t, 5*time.Second, "the banner", func() bool { return strings.Contains(errb.String(), "incidents, open") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the emulator did not stop on cancel")
	}
	if r := cli(t, nil, "", "graph-emulator", "--rate-limit", "many"); r.code != 2 {
		t.Errorf("bad --rate-limit: exit %d", r.code)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestValidateWarnsAboutTheRetiredBackend: securityActions against
// Microsoft's Graph is a warning naming the retirement date, by flag or by
// variable; the default backend and an emulator URL are not.
func TestValidateWarnsAboutTheRetiredBackend(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{"a.yaml": "rules:\n  - {id: r, order: 1, when: 'true', actions: [{tag: x}]}\n"})
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		warn bool
	}{
		{"default backend", nil, nil, false},
		{"legacy by flag", nil, []string{"--block-with", "securityActions"}, true},
		{"legacy by variable", map[string]string{"GRAPHSOAR_BLOCK_WITH": "securityActions"}, nil, true},
		{"legacy against the emulator", nil, []string{"--block-with", "securityActions", "--graph-url", "http://127.0.0.1:8081"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := cli(t, tt.env, "", append([]string{"validate", "--rules", dir}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
			if got := strings.Contains(r.err, "removed from Graph on "+graph.SecurityActionsRetired); got != tt.warn {
				t.Errorf("warning %v, want %v:\n%s", got, tt.warn, r.err)
			}
		})
	}
}
