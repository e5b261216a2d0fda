package rules_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// speedEvents is the number of events of the whole-process comparison.
const speedEvents = 3000

// TestEvalProcessSpeed times whole processes side by side, in one run:
// `graphsoar eval --event - --format json` over 3,000 generated events with the
// 1,000 benchmark rules, against the naive engine over the same events as a
// process of its own (this test binary in TestNaiveProcess); and the time
// until graphsoar is ready (the same command with no events: start, load and
// compile the rules, exit). It is opt-in, as it builds the binary and takes
// about a minute:
//
//	GRAPHSOAR_SPEED=1 go test ./internal/rules -run TestEvalProcessSpeed -v
//
// It fails when graphsoar is less than 50 times as fast as the naive engine or
// needs more than 150 ms to be ready (medians).
func TestEvalProcessSpeed(t *testing.T) {
	if os.Getenv("GRAPHSOAR_SPEED") == "" {
		t.Skip("set GRAPHSOAR_SPEED=1 to time whole processes")
	}
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	var all bytes.Buffer
	for _, e := range genEvents(t, speedEvents, 7) {
		all.Write(e)
		all.WriteByte('\n')
	}
	if err := os.WriteFile(events, all.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "graphsoar")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/graphsoar").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	evalCmd := func(stdin string) *exec.Cmd {
		c := exec.Command(bin, "eval", "--rules", "testdata/bench", "--event", "-", "--format", "json", "--now", "2026-11-21T00:00:00Z")
		c.Stdin = strings.NewReader(stdin)
		return c
	}
	naiveCmd := func() *exec.Cmd {
		c := exec.Command(os.Args[0], "-test.run", "^TestNaiveProcess$")
		c.Env = append(os.Environ(), "GRAPHSOAR_NAIVE_EVENTS="+events)
		return c
	}
	var naive, engine, ready []time.Duration
	for round := range 5 {
		if round < 3 {
			naive = append(naive, timeProcess(t, naiveCmd(), speedEvents))
		}
		engine = append(engine, timeProcess(t, evalCmd(all.String()), speedEvents))
		for range 3 {
			ready = append(ready, timeProcess(t, evalCmd(""), 0))
		}
	}
	n, e, r := median(naive), median(engine), median(ready)
	ratio := float64(n) / float64(e)
	t.Logf("machine: %d CPUs (GOMAXPROCS %d), %s, %s/%s, %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	t.Logf("naive engine, whole process, %d events: median %v of %v", speedEvents, n.Round(time.Millisecond), rounded(naive))
	t.Logf("graphsoar eval, whole process, %d events: median %v of %v (%.0f events/s)", speedEvents, e.Round(time.Millisecond), rounded(engine), float64(speedEvents)/e.Seconds())
	t.Logf("graphsoar ready (load and compile 1,000 rules, no events): median %v of %v", r.Round(time.Millisecond), rounded(ready))
	t.Logf("ratio: %.1fx", ratio)
	if ratio < 50 {
		t.Errorf("graphsoar is %.1fx the naive engine; the target is 50x", ratio)
	}
	if r > 150*time.Millisecond {
		t.Errorf("graphsoar is ready in %v; the target is 150ms", r)
	}
}

// TestNaiveProcess is the naive side of TestEvalProcessSpeed, run as a
// process of its own: it loads the benchmark rules the naive way and writes
// one JSON plan line per event of GRAPHSOAR_NAIVE_EVENTS to standard output.
func TestNaiveProcess(t *testing.T) {
	path := os.Getenv("GRAPHSOAR_NAIVE_EVENTS")
	if path == "" {
		t.Skip("the child process of TestEvalProcessSpeed")
	}
	n := loadNaive(t, "testdata/bench/rules-1000.yaml")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	enc := json.NewEncoder(os.Stdout)
	type match struct {
		Rule string `json:"rule"`
	}
	for sc.Scan() {
		var head struct {
			Subject string `json:"subject"`
			ID      string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &head); err != nil {
			t.Fatal(err)
		}
		var matches []match
		for _, id := range n.evaluate(t, sc.Bytes()) {
			matches = append(matches, match{Rule: id})
		}
		if err := enc.Encode(map[string]any{"incident": head.Subject, "event": head.ID, "matches": matches}); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// timeProcess runs cmd to its end and returns its wall time; it fails the
// test when the command fails or does not print one line per event.
func timeProcess(t *testing.T, cmd *exec.Cmd, lines int) time.Duration {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd.Args, err, errb.String())
	}
	got := 0
	for _, l := range bytes.Split(out.Bytes(), []byte("\n")) {
		if bytes.HasPrefix(l, []byte(`{"`)) {
			got++
		}
	}
	if got != lines {
		t.Fatalf("%s: %d plan lines, want %d", cmd.Args[:2], got, lines)
	}
	return d
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(l, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}
