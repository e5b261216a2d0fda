package rules

import (
	"encoding/json"
	"math"

	"github.com/expr-lang/expr/ast"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// The load-time cost bound. expr bounds an expression's nodes and the memory
// of one run, not its time, and its VM takes no context. What bounds the time
// of one evaluation is the input: the worker dead-letters (too_large) an
// event over Bounds before the rules see it. On such an input every loop of
// an expression has a known worst case (alerts ≤ 1,000, evidence ≤ 10,000 in
// all the alerts together, a list of a rule file its own length, any other
// list or text no longer than the incident's JSON), so the loader estimates
// each condition's and template's work on a maximal incident, in steps, and
// refuses a rule over the budget. docs/BENCHMARKS.md measures what a step
// costs, with rules just under the budget.

// Bounds are the input bounds the cost estimate assumes. They must be (at
// least) those the worker enforces: an event over any of them is
// dead-lettered before evaluation.
type Bounds struct {
	// Alerts bounds the alerts of an incident; Evidence the evidence items of
	// all its alerts together; Bytes the size of its JSON document, which
	// bounds every text and every other list (comments, tags, MITRE
	// techniques, custom details, ...).
	Alerts, Evidence, Bytes int
}

// DefaultBounds are the worker's default bounds: 1,000 alerts, 10,000
// evidence items and 1 MiB.
func DefaultBounds() Bounds { return Bounds{Alerts: 1000, Evidence: 10_000, Bytes: 1 << 20} }

// DefaultCostBudget bounds, in steps, the worst-case work of a rule (its
// condition, and its condition and templates together) on a maximal
// incident. A step is about one expression node evaluated once: a field
// read, a comparison, a loop iteration; or reading 64 bytes of text
// (docs/BENCHMARKS.md, "Rule cost bound", measures what it costs).
const DefaultCostBudget = 20_000_000

// WithInputBounds sets the input bounds the cost estimate assumes (default
// DefaultBounds). A bound that is not positive keeps its default.
func WithInputBounds(b Bounds) Option {
	return func(o *loadOptions) {
		d := DefaultBounds()
		o.bounds = Bounds{Alerts: orDefault(b.Alerts, d.Alerts), Evidence: orDefault(b.Evidence, d.Evidence), Bytes: orDefault(b.Bytes, d.Bytes)}
	}
}

// WithCostBudget sets the budget in steps (default DefaultCostBudget; a
// budget that is not positive keeps the default).
func WithCostBudget(steps int64) Option {
	return func(o *loadOptions) {
		if steps > 0 {
			o.budget = float64(steps)
		}
	}
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Calibration of a step (docs/BENCHMARKS.md, "Rule cost bound"): a step is
// about one node of an expression evaluated once (10-15 ns); text is
// counted in bytes of the weights below, bytesPerStep to a step.
const (
	bytesPerStep = 64 // bytes compared, hashed or copied
	itemsPerStep = 8  // list items copied
	// A byte searched (contains, indexOf, split, replace): strings.Index at
	// its worst, and with a literal needle of at most 63 bytes (compared
	// with vector instructions at every position).
	searchWeight      = 32
	shortSearchWeight = 10
	jsonWeight        = 32 // a byte encoded or decoded as JSON
	// A byte matched by a regular expression: Go's matchers spend about
	// 45 ns, and 16 ns more per instruction that regexLive counts.
	regexBase    = 240
	regexWeight  = 85
	callSteps    = 4  // a call of a builtin or of a function
	reflectSteps = 4  // a field of a value of type any, a map lookup
	methodSteps  = 40 // a method call (reflect.Call)
	parseSteps   = 10 // parsing a date, a duration or a number
)

// costModel is the cost estimate of one load: the bounds, the budget and
// what the rule files' lists hold. It is read-only once made, shared by the
// compilers of a load.
type costModel struct {
	budget            float64
	alerts, evidence  float64
	bytes             float64 // the longest text, and all texts together
	listItems         float64 // the items of any other list of the input
	json              float64 // the JSON form of the input, and of any object of it
	lists             map[string]val
	allLists, anyList val
	anyItem           *val // a value of type any from the input
	deriveSteps       float64
}

// newCostModel makes the model of a load with options o over lists.
func newCostModel(o loadOptions, lists Lists) *costModel {
	b := o.bounds
	m := &costModel{budget: o.budget, alerts: float64(b.Alerts), evidence: float64(b.Evidence), bytes: float64(b.Bytes),
		listItems: math.Ceil(float64(b.Bytes) / 3), lists: map[string]val{}}
	// expr's toJSON indents; text is escaped up to 6 bytes a byte, and a
	// zero-valued alert or evidence item prints its non-omitted fields.
	m.json = 8*m.bytes + m.alerts*jsonLen(incident.Alert{}) + m.evidence*jsonLen(incident.Evidence{}) + jsonLen(incident.Incident{})
	m.anyItem = &val{size: m.bytes, bound: m.bytes, items: m.listItems, total: m.bytes, distinct: true, pool: m.listItems, owner: -1}
	m.anyItem.elem = m.anyItem
	// The helpers' views (devices, fileHashes, ...) are computed once per
	// incident: a pass over the evidence, hashing its keys.
	m.deriveSteps = 4*m.evidence + m.bytes/bytesPerStep
	for name, set := range lists {
		m.lists[name] = setVal(set)
		m.anyList = union(m.anyList, m.lists[name])
	}
	m.allLists = val{items: float64(len(lists)), elem: &m.anyList, owner: -1}
	return m
}

func jsonLen(v any) float64 {
	b, err := json.MarshalIndent(v, "      ", "  ")
	if err != nil {
		return 4096
	}
	return float64(len(b))
}

// setVal is what the cost walk knows of a list of a rule file.
func setVal(set Set) val {
	longest, total := 0, 0
	for v := range set {
		longest = max(longest, len(v))
		total += len(v)
	}
	e := val{size: float64(longest), owner: -1}
	return val{items: float64(len(set)), elem: &e, total: float64(total), size: float64(total), distinct: true, owner: -1}
}

// costReport is the outcome of one estimate: the worst-case steps and the
// site that costs the most.
type costReport struct {
	steps float64
	worst *site
}

// estimate walks a checked expression (a template when text is true: its
// value is then rendered as text).
func (m *costModel) estimate(root ast.Node, text bool) costReport {
	w := &walker{m: m, sites: map[siteKey]*site{}}
	v := w.visit(root)
	if text {
		w.scan(root, "rendering", w.textOf(v), 1)
	}
	r := costReport{}
	for _, s := range w.order {
		r.steps += s.steps
		if r.worst == nil || s.steps > r.worst.steps {
			r.worst = s
		}
	}
	if math.IsNaN(r.steps) {
		r.steps = math.Inf(1)
	}
	return r
}
