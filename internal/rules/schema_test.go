package rules_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
	"github.com/graphsoar/graphsoar/internal/rules"
)

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(rules.Schema(actions.Builtin()))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(rules.SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(rules.SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// asJSON turns a YAML rule file into the JSON value editors validate.
func asJSON(t *testing.T, y []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(y, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaAcceptsValidRuleFiles(t *testing.T) {
	t.Parallel()
	s := compiledSchema(t)
	files, _ := filepath.Glob("../../rules/*.yaml")
	files = append(files, "testdata/bench/rules-1000.yaml")
	for _, f := range files {
		if !rules.IsRuleFile(filepath.Base(f)) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(asJSON(t, b)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := s.Validate(asJSON(t, []byte(trickyRules))); err != nil {
		t.Errorf("tricky rules: %v", err)
	}
	for _, doc := range []string{
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: x, mode: Audit, severity: Low, expires: 720h, rbacGroupNames: [Finance]}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], expires: 2027-01-01, rbacGroupNames: Finance}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], expires: '2027-01-01T00:00:00+01:00'}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], expires: '1h30m', mode: '{{ \"Block\" }}'}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], expires: '{{ 30 * 24 }}h'}}]}]",
	} {
		if err := s.Validate(asJSON(t, []byte(doc))); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestSchemaRejectsMistakes(t *testing.T) {
	t.Parallel()
	s := compiledSchema(t)
	for _, doc := range []string{
		"rule: []",
		"rules: [{id: r, order: 1}]",
		"rules: [{id: r, order: 1, when: 'true', whn: x}]",
		"rules: [{id: r, order: one, when: 'true'}]",
		"rules: [{id: r, order: 1, when: 'true', on: [deleted]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{clasify: {classification: truePositive}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{classify: {classification: TruePositive}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{set_status: closed}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{tag: {tags: [a], extra: 1}}]}]",
		"lists: {bad-name: [a]}",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], mode: Blok}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], severity: high}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], expires: 30d}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], expires: next month}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], rbacGroupNames: [1]}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{block_file_hash: {hashes: [x], scope: all}}]}]",
		"rules: [{id: r, order: 1, when: 'true', actions: [{classify: {classification: truePositive, determination: compromisedUser}}]}]",
	} {
		if err := s.Validate(asJSON(t, []byte(doc))); err == nil {
			t.Errorf("schema accepted %s", doc)
		}
	}
}
