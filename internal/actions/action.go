// Package actions is graphsoar's catalogue of response actions: what each action
// is called in rule files, which parameters it takes and how they are checked,
// and what Graph write it turns into. It knows the incident model and nothing of
// NATS or HTTP; the Graph calls go through the Graph interface.
package actions

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ParamKind is the type of an action parameter after templating.
type ParamKind int

// Parameter kinds.
const (
	String     ParamKind = iota // a string (templates render into it)
	StringList                  // a list of strings (a single string is a one-item list)
)

// Param describes one parameter of an action.
type Param struct {
	Name     string
	Kind     ParamKind
	Required bool
	// Enum, when set, is the list of allowed values (Graph's camelCase enum values).
	Enum []string
	// NonEmpty rejects "" (or an empty list) even when the parameter is optional.
	NonEmpty bool
	// NonEmptyRendered makes NonEmpty hold for a list rendered from a template
	// too. Other lists may render empty (nothing to do); a list that narrows
	// what an action reaches (device groups) must not, as empty it would
	// widen the action to everything.
	NonEmptyRendered bool
	// Item, when set, checks each value (each item of a list). It runs before
	// the Enum check, so that it can explain a value that Enum lacks.
	Item func(string) error
	// Pattern, when set, is a regular expression (ECMA 262, for the JSON
	// Schema) that a literal value matches: it lets editors flag a mistake.
	// Item is what graphsoar checks.
	Pattern string
	Doc     string
}

// Spec describes an action: its rule-file name, its parameters and the
// parameter a shorthand value (a scalar or a sequence instead of a mapping) sets.
type Spec struct {
	Name      string
	Doc       string
	Params    []Param
	Shorthand string
	Example   string
	// Combined, when set, checks the parameters together once each one is
	// valid on its own (a classification with its determination), and names
	// the parameter at fault.
	Combined func(Params) *ParamError
}

// ParamError is a problem with one parameter in the light of the others.
// Err's message names the parameter.
type ParamError struct {
	Param string
	Err   error
}

// Error returns Err's message.
func (e *ParamError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *ParamError) Unwrap() error { return e.Err }

// Param returns the parameter called name.
func (s Spec) Param(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// ParamNames lists the parameter names in declaration order.
func (s Spec) ParamNames() []string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = p.Name
	}
	return names
}

// Params are an action's parameters after templating: each value is a string or
// a []string, as its Param.Kind says.
type Params map[string]any

// UnmarshalJSON reads parameters as Params holds them: a list as a
// []string (a plan or a held action read back from its record).
func (p *Params) UnmarshalJSON(b []byte) error {
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for k, v := range raw {
		if list, ok := v.([]any); ok {
			out := make([]string, 0, len(list))
			for _, item := range list {
				s, ok := item.(string)
				if !ok {
					return fmt.Errorf("parameter %s: want a list of strings, got a %T in it", k, item)
				}
				out = append(out, s)
			}
			raw[k] = out
		}
	}
	*p = raw
	return nil
}

// String returns the string parameter name ("" when absent).
func (p Params) String(name string) string {
	s, _ := p[name].(string)
	return s
}

// List returns the list parameter name (nil when absent).
func (p Params) List(name string) []string {
	l, _ := p[name].([]string)
	return l
}

// CheckValue checks one parameter value (a string or []string) against its
// declaration. The error names the parameter.
func (p Param) CheckValue(v any) error { return p.checkValue(v, false) }

func (p Param) checkValue(v any, rendered bool) error {
	switch p.Kind {
	case String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", p.Name, v)
		}
		return p.checkItem(s)
	case StringList:
		l, ok := v.([]string)
		if !ok {
			return fmt.Errorf("%s: want a list of strings, got %T", p.Name, v)
		}
		if len(l) == 0 && (!rendered || p.NonEmptyRendered) && (p.NonEmpty || p.Required) {
			return fmt.Errorf("%s: empty list", p.Name)
		}
		for _, s := range l {
			if err := p.checkItem(s); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p Param) checkItem(s string) error {
	if s == "" && (p.NonEmpty || (p.Required && p.Kind == String && p.Enum != nil)) {
		return fmt.Errorf("%s: empty", p.Name)
	}
	if p.Item != nil {
		if err := p.Item(s); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
	}
	if p.Enum != nil && !slices.Contains(p.Enum, s) {
		return fmt.Errorf("%s: %q is not one of %s%s", p.Name, s, strings.Join(p.Enum, ", "), suggest(s, p.Enum))
	}
	return nil
}

// Check checks a whole set of parameters as a rule file states them: every
// required one present, no unknown one, every value valid, and then the
// values together (Combined). A problem found by Combined is a *ParamError
// naming the parameter at fault.
func (s Spec) Check(params Params) error { return s.check(params, false) }

// CheckRendered checks parameters rendered from templates for one event. It is
// Check, except that a list may be empty unless its Param says
// NonEmptyRendered: a template that found nothing
// ({{ filter(fileHashes(incident), ...) }}) leaves the action nothing to do,
// which is not an error.
func (s Spec) CheckRendered(params Params) error { return s.check(params, true) }

func (s Spec) check(params Params, rendered bool) error {
	for _, p := range s.Params {
		v, ok := params[p.Name]
		if !ok {
			if p.Required {
				return fmt.Errorf("%s: missing", p.Name)
			}
			continue
		}
		if err := p.checkValue(v, rendered); err != nil {
			return err
		}
	}
	for name := range params {
		if _, ok := s.Param(name); !ok {
			return fmt.Errorf("%s: unknown parameter of %s", name, s.Name)
		}
	}
	if s.Combined != nil {
		if err := s.Combined(params); err != nil {
			return err
		}
	}
	return nil
}

// suggest returns ` (did you mean "x"?)` for the closest candidate, when one is
// close enough, comparing without case first (PascalCase enum values).
func suggest(got string, candidates []string) string {
	if m := Closest(got, candidates); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}
