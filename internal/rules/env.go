package rules

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/expr-lang/expr"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// Env is the environment of rule conditions and templates. Field names in
// expressions are the `expr` tags.
type Env struct {
	Incident *incident.Incident `expr:"incident"`
	// Previous is the incident as the worker last saw it; nil on first sight.
	Previous *incident.Incident `expr:"previous"`
	Event    *EventInfo         `expr:"event"`
	Rule     *RuleInfo          `expr:"rule"`
	Lists    Lists              `expr:"lists"`
	// Changed reports whether an incident property (by its Graph name) differs
	// from Previous; false when Previous is unknown.
	Changed func(field string) bool `expr:"changed"`
	// Now is the evaluation time (fixed per event, settable in rule tests).
	Now func() time.Time `expr:"now"`
}

// EventInfo is `event` in expressions.
type EventInfo struct {
	Type   string    `expr:"type"` // created or updated
	ID     string    `expr:"id"`
	Time   time.Time `expr:"time"`
	Tenant string    `expr:"tenant"`
}

// RuleInfo is `rule` in expressions.
type RuleInfo struct {
	ID          string `expr:"id"`
	Description string `expr:"description"`
}

// Lists are the named lists of a rule set, `lists.NAME` in expressions.
type Lists map[string]Set

// Set is a named list; `x in lists.NAME` tests membership in constant time.
type Set map[string]struct{}

// exprOptions are the compile options shared by conditions and templates.
func exprOptions() []expr.Option {
	opts := []expr.Option{
		expr.Env(Env{}),
		expr.DisableBuiltin("now"),
		expr.MaxNodes(maxNodes),
		expr.Function("devices", func(p ...any) (any, error) { return call(p, (*incident.Incident).Devices), nil },
			new(func(*incident.Incident) []*incident.Evidence)),
		expr.Function("users", func(p ...any) (any, error) { return call(p, (*incident.Incident).Users), nil },
			new(func(*incident.Incident) []*incident.UserAccount)),
		expr.Function("files", func(p ...any) (any, error) { return call(p, (*incident.Incident).Files), nil },
			new(func(*incident.Incident) []*incident.FileDetails)),
		expr.Function("fileHashes", func(p ...any) (any, error) { return call(p, (*incident.Incident).FileHashes), nil },
			new(func(*incident.Incident) []string)),
		expr.Function("ips", func(p ...any) (any, error) { return call(p, (*incident.Incident).IPs), nil },
			new(func(*incident.Incident) []string)),
		expr.Function("urls", func(p ...any) (any, error) { return call(p, (*incident.Incident).URLs), nil },
			new(func(*incident.Incident) []string)),
		expr.Function("evidence", func(p ...any) (any, error) {
			inc, _ := p[0].(*incident.Incident)
			if inc == nil {
				return []*incident.Evidence(nil), nil
			}
			return inc.EvidenceOf(p[1].(string)), nil
		}, new(func(*incident.Incident, string) []*incident.Evidence)),
		expr.Function(optionalFunc, func(p ...any) (any, error) { return p[0], nil }, new(func(any) any)),
	}
	return opts
}

// optionalFunc is the identity function nameCheck wraps optional chains in.
const optionalFunc = "optional"

// Limits on expressions: the node budget at compile time and the memory budget
// of one run (expr's units).
const (
	maxNodes     = 10000
	memoryBudget = 1_000_000
)

// call applies a helper to the incident argument; a nil incident (previous on
// first sight) yields an empty result of the helper's type.
func call[T any](p []any, f func(*incident.Incident) []T) []T {
	inc, _ := p[0].(*incident.Incident)
	if inc == nil {
		return nil
	}
	return f(inc)
}

// incidentFields maps the Graph names of the incident's top-level properties to
// their struct field index, for changed().
func incidentFields() map[string]int {
	t := reflect.TypeOf(incident.Incident{})
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("expr")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		m[strings.Split(name, ",")[0]] = i
	}
	return m
}

// changedFunc returns changed() for one evaluation: whether a property's
// exported content differs (an empty list equals a missing one).
func changedFunc(fields map[string]int, cur, prev *incident.Incident) func(string) bool {
	return func(field string) bool {
		if prev == nil || cur == nil {
			return false
		}
		i, ok := fields[field]
		if !ok {
			return false
		}
		a := reflect.ValueOf(cur).Elem().Field(i)
		b := reflect.ValueOf(prev).Elem().Field(i)
		switch a.Kind() {
		case reflect.String:
			return a.String() != b.String()
		case reflect.Slice:
			if a.Len() == 0 && b.Len() == 0 {
				return false
			}
		}
		if ta, ok := a.Interface().(time.Time); ok {
			return !ta.Equal(b.Interface().(time.Time))
		}
		// JSON compares what rules can see and ignores the unexported
		// bookkeeping of the model.
		ja, errA := json.Marshal(a.Interface())
		jb, errB := json.Marshal(b.Interface())
		return errA != nil || errB != nil || !bytes.Equal(ja, jb)
	}
}
