package graphfake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Seed stores the incidents in raw: a bare incident object, a CloudEvents envelope (an
// object with "specversion" whose "data" is the incident; its "tenantid" fills a missing
// tenantId), or a JSON array of those. A thin envelope, whose data carries nothing but
// the id, holds no incident and is skipped. Incidents keep every field, alerts
// included, exactly as given (numbers stay json.Number). When an id is already stored,
// the incident with the later lastUpdateDateTime wins (the new one on a tie). Nothing
// is stored when raw has an error.
func (s *Server) Seed(raw []byte) error {
	incs, err := parseSeed(raw)
	if err != nil {
		return err
	}
	s.store(incs)
	return nil
}

// SeedFS seeds every *.json file of fsys, walking it recursively in lexical order. All
// files are read before any incident is stored; an error names every failing file.
func (s *Server) SeedFS(fsys fs.FS) error {
	var all []map[string]any
	var errs []error
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(path.Ext(p), ".json") {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err == nil {
			var incs []map[string]any
			if incs, err = parseSeed(raw); err == nil {
				all = append(all, incs...)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.store(all)
	return nil
}

// SeedDir seeds every *.json file under dir (see SeedFS).
func (s *Server) SeedDir(dir string) error {
	return s.SeedFS(os.DirFS(dir))
}

// store keeps each incident unless a stored one with its id is newer.
func (s *Server) store(incs []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, inc := range incs {
		id := inc["id"].(string)
		if cur, ok := s.incidents[id]; ok {
			ct, cok := parseStamp(cur["lastUpdateDateTime"])
			nt, nok := parseStamp(inc["lastUpdateDateTime"])
			if cok && nok && ct.After(nt) {
				continue
			}
		}
		s.incidents[id] = inc
	}
}

// parseSeed decodes the incidents of one seed document.
func parseSeed(raw []byte) ([]map[string]any, error) {
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("graphfake: seed: %w", err)
	}
	items, isArray := v.([]any)
	if !isArray {
		items = []any{v}
	}
	var out []map[string]any
	for i, item := range items {
		inc, err := seedItem(item)
		if err != nil {
			if isArray {
				return nil, fmt.Errorf("graphfake: seed: item %d: %w", i, err)
			}
			return nil, fmt.Errorf("graphfake: seed: %w", err)
		}
		if inc != nil {
			out = append(out, inc)
		}
	}
	return out, nil
}

// seedItem returns the incident of one seed item, or nil for a thin envelope.
func seedItem(item any) (map[string]any, error) {
	obj, ok := item.(map[string]any)
	if !ok {
		return nil, errors.New("an incident object or a CloudEvents envelope is expected")
	}
	inc := obj
	if _, isEnvelope := obj["specversion"]; isEnvelope {
		data, ok := obj["data"].(map[string]any)
		if !ok {
			return nil, errors.New("the envelope's data is not an incident object")
		}
		if isThin(data) {
			return nil, nil
		}
		inc = data
		if t, ok := obj["tenantid"].(string); ok && t != "" && inc["tenantId"] == nil {
			inc["tenantId"] = t
		}
	}
	if id, ok := inc["id"].(string); !ok || id == "" {
		return nil, errors.New("the incident has no string id")
	}
	for _, k := range []string{"createdDateTime", "lastUpdateDateTime"} {
		if v, ok := inc[k]; ok && v != nil {
			if _, ok := parseStamp(v); !ok {
				return nil, fmt.Errorf("incident %v: %s %s is not an RFC 3339 date-time", inc["id"], k, jsonText(v))
			}
		}
	}
	if alerts, ok := inc["alerts"]; ok && alerts != nil {
		if _, ok := alerts.([]any); !ok {
			return nil, fmt.Errorf("incident %v: alerts is not an array", inc["id"])
		}
	}
	return inc, nil
}

// isThin reports whether an envelope's data only names an incident.
func isThin(data map[string]any) bool {
	for k := range data {
		if k != "id" && !strings.HasPrefix(k, "@odata.") {
			return false
		}
	}
	return true
}
