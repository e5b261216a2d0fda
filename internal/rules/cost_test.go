package rules

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
)

// estimateSrc estimates an expression (a template's when text) with the
// cost model of a load with opts, lists and no other rule.
func estimateSrc(t testing.TB, src string, text bool, lists Lists, opts ...Option) costReport {
	t.Helper()
	o := loadOptions{bounds: DefaultBounds(), budget: DefaultCostBudget}
	for _, op := range opts {
		op(&o)
	}
	m := newCostModel(o, lists)
	c := &compiler{lists: lists, fields: incidentFields()}
	var r costReport
	c.checked = func(n ast.Node) { r = m.estimate(n, text) }
	if _, errs := c.compile(src, !text, nil); len(errs) > 0 {
		t.Fatalf("%s: %s", src, errs[0].msg)
	}
	return r
}

// loadRules loads one rule file, a.yaml, shown as rules/a.yaml.
func loadRules(t *testing.T, yaml string, opts ...Option) error {
	t.Helper()
	fsys := fstest.MapFS{"a.yaml": {Data: []byte(yaml)}}
	_, err := LoadFS(fsys, ".", "rules", nil, opts...)
	return err
}

func ruleWhen(when string) string {
	return "rules:\n  - id: r\n    order: 1\n    when: '" + strings.ReplaceAll(when, "'", "''") + "'\n    actions: [{tag: x}]\n"
}

func TestCostOfRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, when string
		want       string // "" when the rule loads, else a part of the error
	}{
		{"a field", `incident.severity == "high"`, ""},
		{"a helper against a list", `any(fileHashes(incident), {# in lists.l})`, ""},
		{"the evidence of each alert (10,000 in all)", `any(incident.alerts, {any(.evidence, {.verdict == "malicious"})})`, ""},
		{"the techniques of each alert", `any(incident.alerts, {any(.mitreTechniques, {# in lists.l})})`, ""},
		{"a search in each alert's title", `any(incident.alerts, {.title contains "beacon"})`, ""},
		{"a regular expression over every URL", `any(urls(incident), {# matches "^https?://[^/]*\\.example\\.net/"})`, ""},
		{"loops over alerts, twice", `all(incident.alerts, {any(incident.alerts, {.title == "x"})})`, ""},
		{"the memory budget stops a large range", `len(map(1..10000000, {#})) > 0`, ""},
		{"all the evidence for each alert", `all(incident.alerts, {any(evidence(incident, "deviceEvidence"), {.deviceDnsName == "x"})})`,
			`(nested any over evidence(incident, "deviceEvidence") inside all over incident.alerts)`},
		{"the description searched for each alert", `any(incident.alerts, {incident.description contains .title})`,
			`(contains reading up to 1 MiB of text inside any over incident.alerts)`},
		{"text grown by reduce", `reduce(incident.alerts, #acc + .title, "") != ""`, `an unbounded number of steps`},
		{"a repeated description", `repeat(incident.description, 10000) != ""`, `repeat reading up to 9.8 GiB of text`},
		{"uniq over every device", `len(uniq(map(devices(incident), {.deviceDnsName}))) > 1`, `uniq`},
	}
	lists := "lists:\n  l: [T1486, T1059]\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := loadRules(t, lists+ruleWhen(tt.when))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("%s: %v", tt.when, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `rule "r": condition may take up to`) ||
				!strings.Contains(err.Error(), "the limit is 20,000,000 steps") {
				t.Fatalf("%s: got %v, want an error with %q", tt.when, err, tt.want)
			}
		})
	}
}

// TestCostBudgetEdge loads the benchmark's nested loops just under the
// budget, and refuses them one item over it, at the inner loop.
func TestCostBudgetEdge(t *testing.T) {
	t.Parallel()
	shape := costShapes()[0]
	n, steps := shape.maxN(t, DefaultCostBudget)
	if steps > DefaultCostBudget || steps < 0.99*DefaultCostBudget {
		t.Fatalf("n = %d costs %v steps: not just under the budget", n, steps)
	}
	file := func(n int) string {
		return "rules:\n  - id: pathological\n    order: 1\n    when: '" + shape.when(n) + "'\n    actions: [{tag: slow}]\n"
	}
	if err := loadRules(t, file(n)); err != nil {
		t.Fatalf("just under the budget: %v", err)
	}
	over := file(n + 1)
	err := loadRules(t, over)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Errors) != 1 {
		t.Fatalf("one item over the budget: got %v, want one load error", err)
	}
	line := strings.Split(over, "\n")[3]
	want := fmt.Sprintf(`rules/a.yaml:4:%d: rule "pathological": condition may take up to `, strings.Index(line, "none(")+1)
	got := le.Errors[0].Error()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got  %s\nwant %s...", got, want)
	}
	for _, part := range []string{
		fmt.Sprintf("(nested none over take(devices(incident), %d) inside all over incident.alerts)", n+1),
		"the limit is 20,000,000 steps",
		"an inner loop runs again for every item of the loop around it",
	} {
		if !strings.Contains(got, part) {
			t.Errorf("%s\nlacks %q", got, part)
		}
	}
}

func TestCostOptions(t *testing.T) {
	t.Parallel()
	shape := costShapes()[0]
	n, _ := shape.maxN(t, DefaultCostBudget)
	over := ruleWhen(shape.when(n + 1))
	// Fewer alerts allowed: the same loops are within the budget.
	if err := loadRules(t, over, WithInputBounds(Bounds{Alerts: 100})); err != nil {
		t.Errorf("with 100 alerts at most: %v", err)
	}
	// A larger budget.
	if err := loadRules(t, over, WithCostBudget(2*DefaultCostBudget)); err != nil {
		t.Errorf("with twice the budget: %v", err)
	}
	// A small budget refuses an ordinary rule, and says so.
	err := loadRules(t, ruleWhen(`any(devices(incident), {.deviceDnsName endsWith ".contoso.com"})`), WithCostBudget(1000))
	if err == nil || !strings.Contains(err.Error(), "the limit is 1,000 steps") {
		t.Errorf("with a budget of 1,000 steps: %v", err)
	}
	// More evidence allowed: nested loops over parts cost more.
	parts := ruleWhen(`any(incident.alerts, {any(.evidence, {.verdict == "x"})})`)
	if err := loadRules(t, parts); err != nil {
		t.Errorf("default bounds: %v", err)
	}
	if err := loadRules(t, parts, WithInputBounds(Bounds{Evidence: 10_000_000})); err == nil {
		t.Error("10,000,000 evidence items: loaded")
	}
}

func TestCostOfTemplates(t *testing.T) {
	t.Parallel()
	heavy := `all(incident.alerts, {none(take(devices(incident), 1500), {.deviceDnsName == "x"})})`
	tests := []struct {
		name, rule, want string
	}{
		{"the description once per alert", "rules:\n  - id: t\n    order: 1\n    when: 'true'\n    actions:\n" +
			"      - comment: '{{ join(map(incident.alerts, {incident.description}), \",\") }}'\n",
			`rules/a.yaml:6:22: comment: comment: rule "t": template may take up to `},
		{"condition and template together", "rules:\n  - id: both\n    order: 1\n    when: '" + heavy + "'\n    actions:\n" +
			"      - comment: 'checked: {{ " + heavy + " }}'\n",
			`rules/a.yaml:2:9: rule "both": its condition and templates together may take up to `},
		{"the starter templates", "lists:\n  vip: [a@contoso.com]\nrules:\n  - id: ok\n    order: 1\n    when: 'true'\n    actions:\n" +
			"      - comment: '{{ join(filter(map(users(incident), {.userPrincipalName}), {# in lists.vip}), \", \") }} {{ join(urls(incident), \", \") }}'\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := loadRules(t, tt.rule)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var le *LoadError
			if !errors.As(err, &le) || len(le.Errors) != 1 || !strings.HasPrefix(le.Errors[0].Error(), tt.want) {
				t.Fatalf("got %v\nwant %s...", err, tt.want)
			}
		})
	}
}

// TestCostOfEveryBuiltin estimates a call of each of expr's builtins: a
// builtin the walk does not know would have no bound (and refuse every rule
// that calls it), so a new expr version fails here first.
func TestCostOfEveryBuiltin(t *testing.T) {
	t.Parallel()
	calls := map[string]string{
		"all":           `all(incident.alerts, {.title == ""})`,
		"none":          `none(incident.alerts, {.title == ""})`,
		"any":           `any(incident.alerts, {.title == ""})`,
		"one":           `one(incident.alerts, {.title == ""})`,
		"filter":        `filter(incident.alerts, {.title == ""})`,
		"map":           `map(incident.alerts, {.title})`,
		"find":          `find(incident.alerts, {.title == ""})`,
		"findIndex":     `findIndex(incident.alerts, {.title == ""})`,
		"findLast":      `findLast(incident.alerts, {.title == ""})`,
		"findLastIndex": `findLastIndex(incident.alerts, {.title == ""})`,
		"count":         `count(incident.alerts, {.title == ""})`,
		"sum":           `sum(incident.alerts, {len(.evidence)})`,
		"groupBy":       `groupBy(incident.alerts, {.severity})`,
		"sortBy":        `sortBy(incident.alerts, {.title})`,
		"reduce":        `reduce(incident.alerts, #acc + len(.evidence), 0)`,
		"len":           `len(incident.alerts)`,
		"type":          `type(incident)`,
		"abs":           `abs(-1)`,
		"ceil":          `ceil(1.5)`,
		"floor":         `floor(1.5)`,
		"round":         `round(1.5)`,
		"int":           `int("1")`,
		"float":         `float("1.5")`,
		"string":        `string(incident.alerts)`,
		"trim":          `trim(incident.description)`,
		"trimPrefix":    `trimPrefix(incident.description, "a")`,
		"trimSuffix":    `trimSuffix(incident.description, "a")`,
		"upper":         `upper(incident.description)`,
		"lower":         `lower(incident.description)`,
		"split":         `split(incident.description, ",")`,
		"splitAfter":    `splitAfter(incident.description, ",")`,
		"replace":       `replace(incident.description, "a", "b")`,
		"repeat":        `repeat("ab", 3)`,
		"join":          `join(incident.customTags, ",")`,
		"indexOf":       `indexOf(incident.description, "a")`,
		"lastIndexOf":   `lastIndexOf(incident.description, "a")`,
		"hasPrefix":     `hasPrefix(incident.description, "a")`,
		"hasSuffix":     `hasSuffix(incident.description, "a")`,
		"max":           `max(1, 2)`,
		"min":           `min(map(incident.alerts, {len(.title)}))`,
		"mean":          `mean([1, 2])`,
		"median":        `median(map(incident.alerts, {len(.title)}))`,
		"toJSON":        `toJSON(incident)`,
		"fromJSON":      `fromJSON(incident.description)`,
		"toBase64":      `toBase64(incident.description)`,
		"fromBase64":    `fromBase64(incident.description)`,
		"duration":      `duration("1h")`,
		"date":          `date("2026-11-20")`,
		"timezone":      `timezone("UTC")`,
		"first":         `first(incident.alerts)`,
		"last":          `last(incident.alerts)`,
		"get":           `get(incident.alerts, 0)`,
		"take":          `take(incident.alerts, 2)`,
		"keys":          `keys({"a": 1})`,
		"values":        `values({"a": 1})`,
		"toPairs":       `toPairs({"a": 1})`,
		"fromPairs":     `fromPairs([["a", 1]])`,
		"reverse":       `reverse(incident.alerts)`,
		"uniq":          `uniq(incident.customTags)`,
		"concat":        `concat(incident.customTags, incident.systemTags)`,
		"flatten":       `flatten([[1], [2]])`,
		"sort":          `sort(incident.customTags)`,
		"bitand":        `bitand(1, 2)`,
		"bitor":         `bitor(1, 2)`,
		"bitxor":        `bitxor(1, 2)`,
		"bitnand":       `bitnand(1, 2)`,
		"bitnot":        `bitnot(1)`,
		"bitshl":        `bitshl(1, 2)`,
		"bitshr":        `bitshr(1, 2)`,
		"bitushr":       `bitushr(1, 2)`,
	}
	for _, name := range builtin.Names {
		if name == "now" {
			continue // disabled: now is the environment's function
		}
		src, ok := calls[name]
		if !ok {
			t.Errorf("builtin %s: no call to estimate", name)
			continue
		}
		r := estimateSrc(t, src, true, Lists{})
		if r.steps < 1 || math.IsInf(r.steps, 0) || math.IsNaN(r.steps) {
			t.Errorf("%s: %v steps", src, r.steps)
		}
	}
}

// TestCostAmortizesParts checks that parts of distinct items are counted
// once over a loop nest: the evidence of all alerts, the texts of all items.
func TestCostAmortizesParts(t *testing.T) {
	t.Parallel()
	b := DefaultBounds()
	perItem := estimateSrc(t, `any(incident.alerts, {any(.evidence, {.verdict == "x"})})`, false, Lists{}).steps
	whole := estimateSrc(t, `any(incident.alerts, {any(evidence(incident, "deviceEvidence"), {.verdict == "x"})})`, false, Lists{}).steps
	if perItem > 20*float64(b.Evidence) || whole < float64(b.Alerts*b.Evidence) {
		t.Errorf("evidence of each alert: %v steps, all evidence for each alert: %v steps", perItem, whole)
	}
	own := estimateSrc(t, `any(incident.alerts, {.title contains "x"})`, false, Lists{}).steps
	other := estimateSrc(t, `any(incident.alerts, {incident.description contains "x"})`, false, Lists{}).steps
	if own > float64(b.Bytes) || other < float64(b.Alerts)*float64(b.Bytes)/bytesPerStep {
		t.Errorf("each alert's title: %v steps, the description for each alert: %v steps", own, other)
	}
}

// FuzzCost estimates random expressions: the estimate is a number of steps
// (never negative, never NaN), and running an expression once per alert
// never costs less than running it once.
func FuzzCost(f *testing.F) {
	for _, s := range []string{
		`incident.severity == "high"`, `any(fileHashes(incident), {# in lists.l})`,
		`any(incident.alerts, {any(.evidence, {.verdict == "x"})})`, `incident.description matches "(?i)a+b"`,
		`len(map(1..100, {# * 2})) > 1`, `reduce(incident.alerts, #acc + 1, 0) > 0`,
		`let d = devices(incident); any(d, {.deviceDnsName in lists.l})`, `toJSON(previous) contains "x"`,
		`count(split(lower(incident.description), ","), {# startsWith "a"}) > 2`,
		`incident.createdDateTime.Year() > 2000 && now() > event.time`, `changed("alerts") || changed("severity")`,
		`get(incident.alerts[0].customDetails, "x") == nil`, `{"a": incident.id}.a == "1" ? true : false`,
	} {
		f.Add(s)
	}
	lists := Lists{"l": Set{"T1486": {}}}
	f.Fuzz(func(t *testing.T, src string) {
		c := &compiler{lists: lists, fields: incidentFields()}
		m := newCostModel(loadOptions{bounds: DefaultBounds(), budget: DefaultCostBudget}, lists)
		var once costReport
		c.checked = func(n ast.Node) { once = m.estimate(n, false) }
		if _, errs := c.compile(src, true, nil); len(errs) > 0 {
			return
		}
		if once.steps < 1 || math.IsNaN(once.steps) || once.worst == nil {
			t.Fatalf("%s: %v steps", src, once.steps)
		}
		var looped costReport
		c.checked = func(n ast.Node) { looped = m.estimate(n, false) }
		if _, errs := c.compile("all(incident.alerts, {"+src+"\n})", true, nil); len(errs) > 0 {
			return // a let, or # taken by the new loop
		}
		if looped.steps < once.steps {
			t.Fatalf("%s: %v steps, %v steps once per alert", src, once.steps, looped.steps)
		}
	})
}
