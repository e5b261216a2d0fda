package rules_test

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// naive is the straightforward rule engine the benchmark compares against.
type naive struct {
	lists map[string]any
	rules []naiveRule
}

type naiveRule struct {
	id    string
	order int
	prog  *vm.Program
	tmpls []*vm.Program
}

func naiveEvidence(inc map[string]any, typ string) []any {
	var out []any
	alerts, _ := inc["alerts"].([]any)
	for _, a := range alerts {
		ev, _ := a.(map[string]any)["evidence"].([]any)
		for _, e := range ev {
			m := e.(map[string]any)
			if t, _ := m["@odata.type"].(string); strings.HasSuffix(t, "."+typ) {
				out = append(out, m)
			}
		}
	}
	return out
}

func naiveOptions() []expr.Option {
	return []expr.Option{
		expr.Function("devices", func(p ...any) (any, error) {
			return naiveEvidence(p[0].(map[string]any), "deviceEvidence"), nil
		}),
		expr.Function("users", func(p ...any) (any, error) {
			var out []any
			for _, e := range naiveEvidence(p[0].(map[string]any), "userEvidence") {
				if u, ok := e.(map[string]any)["userAccount"]; ok {
					out = append(out, u)
				}
			}
			return out, nil
		}),
		expr.Function("fileHashes", func(p ...any) (any, error) {
			var out []any
			for _, e := range naiveEvidence(p[0].(map[string]any), "fileEvidence") {
				fd, _ := e.(map[string]any)["fileDetails"].(map[string]any)
				if h, _ := fd["sha256"].(string); h != "" {
					out = append(out, h)
				} else if h, _ := fd["sha1"].(string); h != "" {
					out = append(out, h)
				}
			}
			return out, nil
		}),
	}
}

func loadNaive(tb testing.TB, file string) *naive {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var doc struct {
		Lists map[string][]string `yaml:"lists"`
		Rules []struct {
			ID      string           `yaml:"id"`
			Order   int              `yaml:"order"`
			When    string           `yaml:"when"`
			Actions []map[string]any `yaml:"actions"`
		} `yaml:"rules"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		tb.Fatal(err)
	}
	n := &naive{lists: map[string]any{}}
	for name, vals := range doc.Lists {
		arr := make([]any, len(vals))
		for i, v := range vals {
			arr[i] = v
		}
		n.lists[name] = arr
	}
	for _, r := range doc.Rules {
		prog, err := expr.Compile(r.When, naiveOptions()...)
		if err != nil {
			tb.Fatalf("%s: %v", r.ID, err)
		}
		nr := naiveRule{id: r.ID, order: r.Order, prog: prog}
		for _, a := range r.Actions {
			if c, ok := a["comment"].(string); ok {
				for _, part := range strings.Split(c, "{{")[1:] {
					p, err := expr.Compile(strings.TrimSpace(strings.SplitN(part, "}}", 2)[0]), naiveOptions()...)
					if err != nil {
						tb.Fatal(err)
					}
					nr.tmpls = append(nr.tmpls, p)
				}
			}
		}
		n.rules = append(n.rules, nr)
	}
	sort.Slice(n.rules, func(i, j int) bool { return n.rules[i].order < n.rules[j].order })
	return n
}

func (n *naive) evaluate(tb testing.TB, raw []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatal(err)
	}
	inc := doc
	if d, ok := doc["data"].(map[string]any); ok {
		inc = d
	}
	var matched []string
	for _, r := range n.rules {
		env := map[string]any{"incident": inc, "lists": n.lists, "rule": map[string]any{"id": r.id}}
		out, err := expr.Run(r.prog, env)
		if err != nil {
			continue // a nil field (assignedTo) compared, etc.: not a match
		}
		if ok, _ := out.(bool); ok {
			for _, t := range r.tmpls {
				if _, err := expr.Run(t, env); err != nil {
					tb.Fatal(err)
				}
			}
			matched = append(matched, r.id)
		}
	}
	return matched
}
