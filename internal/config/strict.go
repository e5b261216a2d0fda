package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// unknownKeys returns an error "line L: field K not found in type T" for each
// mapping key under n that the Go type t has no field for, as yaml.v3's
// KnownFields does.
func unknownKeys(n *yaml.Node, t reflect.Type) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return unknownKeys(n.Content[0], t)
		}
	case yaml.AliasNode:
		// The anchored node was checked where it was written.
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			var errs []error
			for _, c := range n.Content {
				errs = append(errs, unknownKeys(c, t.Elem())...)
			}
			return errs
		}
	case yaml.MappingNode:
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "<<" && k.Tag == "!!merge":
				errs = append(errs, unknownKeys(v, t)...)
			case t.Kind() == reflect.Map:
				errs = append(errs, unknownKeys(v, t.Elem())...)
			case t.Kind() == reflect.Struct:
				f, ok := fieldByKey(t, k.Value)
				if !ok {
					errs = append(errs, fmt.Errorf("line %d: field %s not found in type %s", k.Line, k.Value, t))
					continue
				}
				errs = append(errs, unknownKeys(v, f.Type)...)
			}
		}
		return errs
	}
	return nil
}

// fieldByKey finds the exported field of struct t that key decodes into,
// following yaml.v3's naming (the yaml tag, else the lower-cased name).
func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			if g, ok := fieldByKey(f.Type, key); ok {
				return g, true
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// prefixLines puts path before each line of err, trimming yaml.v3's prefixes:
// "path:3: field x not found in type config.Worker".
func prefixLines(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "line "); ok {
			if num, text, ok := strings.Cut(rest, ": "); ok {
				lines = append(lines, fmt.Sprintf("%s:%s: %s", path, num, text))
				continue
			}
		}
		lines = append(lines, path+": "+l)
	}
	return errors.New(strings.Join(lines, "\n"))
}
