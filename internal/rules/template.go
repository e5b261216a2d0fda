package rules

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"
)

// tmpl is a parameter string: literal text, text with {{ expr }} templates, or
// exactly one {{ expr }}, which keeps the expression's typed value.
type tmpl struct {
	lit   string
	segs  []segment   // text with templates
	whole *vm.Program // the whole value is one template
}

type segment struct {
	text string
	prog *vm.Program // nil for literal text
}

// rawPart is a piece of a template string before compilation.
type rawPart struct {
	text   string
	isExpr bool
	off    int // rune offset of text in the template string
}

// splitTemplate splits s into literal text and {{ expr }} parts. The closing
// braces are the first "}}" outside brackets and string literals, so maps and
// closures may appear inside. An error carries the rune offset of the problem.
func splitTemplate(s string) ([]rawPart, *exprError) {
	var parts []rawPart
	runes := []rune(s)
	lit := strings.Builder{}
	litStart := 0
	for i := 0; i < len(runes); i++ {
		if runes[i] != '{' || i+1 >= len(runes) || runes[i+1] != '{' {
			lit.WriteRune(runes[i])
			continue
		}
		end, err := closeOf(runes, i+2)
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			parts = append(parts, rawPart{text: lit.String(), off: litStart})
			lit.Reset()
		}
		body := string(runes[i+2 : end])
		trimmed := strings.TrimSpace(body)
		if trimmed == "" {
			return nil, &exprError{off: i, msg: "empty {{ }} template"}
		}
		lead := len([]rune(body)) - len([]rune(strings.TrimLeft(body, " \t\n")))
		parts = append(parts, rawPart{text: trimmed, isExpr: true, off: i + 2 + lead})
		i = end + 1
		litStart = i + 1
	}
	if lit.Len() > 0 {
		parts = append(parts, rawPart{text: lit.String(), off: litStart})
	}
	return parts, nil
}

// closeOf returns the index of the "}}" closing a template whose body starts at from.
func closeOf(r []rune, from int) (int, *exprError) {
	depth := 0
	var quote rune
	for i := from; i < len(r); i++ {
		c := r[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '{' || c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == '}':
			if depth == 0 && i+1 < len(r) && r[i+1] == '}' {
				return i, nil
			}
			depth--
		}
	}
	return 0, &exprError{off: from - 2, msg: "unclosed {{ (missing }})"}
}

// render evaluates the template. A whole template returns the typed value.
func (t *tmpl) render(m *vm.VM, env *Env) (any, error) {
	if t.whole != nil {
		return m.Run(t.whole, env)
	}
	if t.segs == nil {
		return t.lit, nil
	}
	var b strings.Builder
	for _, s := range t.segs {
		if s.prog == nil {
			b.WriteString(s.text)
			continue
		}
		v, err := m.Run(s.prog, env)
		if err != nil {
			return nil, err
		}
		text, err := format(v)
		if err != nil {
			return nil, err
		}
		b.WriteString(text)
	}
	return b.String(), nil
}

// format renders a template value into text. A value that does not read as
// text (a struct other than a time, a map, a function) is an error: its Go
// form would hold pointers, different on every run.
func format(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case time.Time:
		return v.UTC().Format(time.RFC3339), nil
	case time.Duration:
		return v.String(), nil
	case []string:
		return strings.Join(v, ", "), nil
	case fmt.Stringer:
		return v.String(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		items := make([]string, rv.Len())
		for i := range items {
			s, err := format(rv.Index(i).Interface())
			if err != nil {
				return "", err
			}
			items[i] = s
		}
		return strings.Join(items, ", "), nil
	case reflect.Pointer:
		if rv.IsNil() {
			return "", nil
		}
		return format(rv.Elem().Interface())
	}
	if err := checkTextType(rv.Type()); err != nil {
		return "", fmt.Errorf("the value %w", err)
	}
	return fmt.Sprint(v), nil
}

// toList turns a whole template's value into a list of strings: a list's items,
// a string as a one-item list, nil as an empty list.
func toList(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return []string{}, nil
	case []string:
		return v, nil
	case string:
		return []string{v}, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("want a list of strings, got %T", v)
	}
	out := make([]string, 0, rv.Len())
	for i := range rv.Len() {
		item := rv.Index(i).Interface()
		if item == nil {
			continue
		}
		s, ok := item.(string)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, item %d is %T", i, item)
		}
		out = append(out, s)
	}
	return out, nil
}

// checkTextType rejects expression types that do not read as text (structs,
// maps, functions, or lists of them): the author most likely forgot to pick
// a field.
func checkTextType(t reflect.Type) error {
	if t == nil {
		return nil
	}
	orig, list := t, false
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		list = list || t.Kind() != reflect.Pointer
		t = t.Elem() // a list is text when its items are
	}
	if t.Implements(reflect.TypeOf((*fmt.Stringer)(nil)).Elem()) || t == reflect.TypeOf(time.Time{}) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		field := exampleField(t)
		if list {
			return fmt.Errorf("yields %s, not text; pick a field of each, e.g. map(..., .%s)", orig, field)
		}
		return fmt.Errorf("yields %s, not text; pick one of its fields, e.g. .%s", orig, field)
	case reflect.Map, reflect.Func, reflect.Chan:
		return fmt.Errorf("yields %s, not text", orig)
	}
	return nil
}

// exampleField names a field of struct t for an example: id, title or
// displayName when it has one, else "field".
func exampleField(t reflect.Type) string {
	for _, want := range []string{"id", "title", "displayName"} {
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("expr"), ","); name == want {
				return want
			}
		}
	}
	return "field"
}

// checkListType rejects expression types that cannot become a list of strings.
func checkListType(t reflect.Type) error {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Interface, reflect.String:
		return nil
	case reflect.Slice, reflect.Array:
		switch t.Elem().Kind() {
		case reflect.String, reflect.Interface:
			return nil
		}
		return fmt.Errorf("yields a list of %s, want a list of strings", t.Elem())
	}
	return fmt.Errorf("yields %s, want a list of strings", t)
}
