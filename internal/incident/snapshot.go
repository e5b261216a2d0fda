package incident

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// Snapshot encodes the incident for remembering as the previous version: the
// whole incident, or only the id and the named top-level properties (Graph
// names). Unknown names are ignored. DecodeIncident reads it back.
func (inc *Incident) Snapshot(fields []string, whole bool) ([]byte, error) {
	if whole {
		return json.Marshal(inc)
	}
	out := map[string]any{"id": inc.ID}
	v := reflect.ValueOf(inc).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "" || name == "-" || name == "id" {
			continue
		}
		for _, want := range fields {
			if want == name {
				out[name] = v.Field(i).Interface()
				break
			}
		}
	}
	return json.Marshal(out)
}

// Projector copies the id and the named top-level properties of an incident
// (all of them when whole) into a new Incident: what the worker remembers as
// the previous version. The copy shares slices with the original, which is
// read-only. The field lookup happens once, here.
func Projector(fields []string, whole bool) func(*Incident) *Incident {
	var idx []int
	t := reflect.TypeFor[Incident]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.IsExported() && name != "" && name != "-" && (whole || name == "id" || slices.Contains(fields, name)) {
			idx = append(idx, i)
		}
	}
	return func(inc *Incident) *Incident {
		out := &Incident{}
		src, dst := reflect.ValueOf(inc).Elem(), reflect.ValueOf(out).Elem()
		for _, i := range idx {
			dst.Field(i).Set(src.Field(i))
		}
		return out
	}
}
