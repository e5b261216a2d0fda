package incident

import (
	"encoding/json"
	"reflect"
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
