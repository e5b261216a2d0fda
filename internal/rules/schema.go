package rules

import (
	"github.com/graphsoar/graphsoar/internal/actions"
)

// SchemaID is the $id of the rule-file JSON Schema.
const SchemaID = "https://graphsoar.dev/schema/rules.json"

// Schema returns a JSON Schema (draft-07, the draft editors' YAML language
// servers support best) of the rule-file format, with one entry per action of
// the registry, so that editors offer completion and flag mistakes inline.
// Expressions are strings; they are checked by `graphsoar validate`.
func Schema(reg *actions.Registry) map[string]any {
	var actionItems []any
	for _, name := range reg.Names() {
		a, _ := reg.Lookup(name)
		actionItems = append(actionItems, actionSchema(a.Spec()))
	}
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	return map[string]any{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"$id":                  SchemaID,
		"title":                "graphsoar rule file",
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"lists": map[string]any{
				"description":   "Named sets used in conditions as lists.NAME.",
				"type":          "object",
				"propertyNames": map[string]any{"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
				"additionalProperties": map[string]any{
					"oneOf": []any{
						map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
						map[string]any{
							"type": "object", "additionalProperties": false, "required": []any{"file"},
							"properties": map[string]any{"file": str("Path of a file with one value a line (# comments), relative to this rule file.")},
						},
					},
				},
			},
			"rules": map[string]any{
				"type": "array",
				"items": map[string]any{
					"type":                 "object",
					"additionalProperties": false,
					"required":             []any{"id", "order", "when"},
					"properties": map[string]any{
						"id":          map[string]any{"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "description": "Unique, stable id; appears in audit events and comments."},
						"description": str("What the rule is for."),
						"on": map[string]any{
							"description": "Change types that trigger the rule (default both).",
							"oneOf": []any{
								map[string]any{"enum": []any{"created", "updated"}},
								map[string]any{"type": "array", "minItems": 1, "items": map[string]any{"enum": []any{"created", "updated"}}},
							},
						},
						"order":   map[string]any{"type": "integer", "description": "Evaluation order; unique across the rule set."},
						"enabled": map[string]any{"type": "boolean", "default": true},
						"expires": map[string]any{"type": "string", "description": "After this time (RFC 3339 or a date) the rule is skipped."},
						"when":    str("expr condition over incident, previous, event, rule, lists; helpers devices(), users(), files(), fileHashes(), ips(), urls(), evidence(), changed()."),
						"actions": map[string]any{"type": "array", "items": map[string]any{"oneOf": actionItems}},
						"stop":    map[string]any{"type": "boolean", "default": false, "description": "When the rule matches, no later rule runs for this event."},
					},
				},
			},
		},
	}
}

func actionSchema(s actions.Spec) map[string]any {
	props := map[string]any{}
	var required []any
	for _, p := range s.Params {
		props[p.Name] = paramSchema(p)
		if p.Required {
			required = append(required, p.Name)
		}
	}
	props[approvalKey] = map[string]any{"enum": []any{"required", "none"},
		"description": "required: hold the action until a person approves it (graphsoar approvals, the live page)."}
	mapping := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		mapping["required"] = required
	}
	value := any(mapping)
	if s.Shorthand != "" {
		short, _ := s.Param(s.Shorthand)
		value = map[string]any{"anyOf": []any{paramSchema(short), mapping}}
	}
	return map[string]any{
		"type":                 "object",
		"description":          s.Doc,
		"additionalProperties": false,
		"required":             []any{s.Name},
		"properties":           map[string]any{s.Name: value},
	}
}

func paramSchema(p actions.Param) map[string]any {
	var item map[string]any
	if p.Enum != nil {
		// A template may also produce the value at run time.
		enum := make([]any, len(p.Enum))
		for i, v := range p.Enum {
			enum[i] = v
		}
		item = map[string]any{"anyOf": []any{map[string]any{"enum": enum}, map[string]any{"type": "string", "pattern": "\\{\\{.*\\}\\}"}}}
	} else {
		item = map[string]any{"type": "string"}
		if p.Pattern != "" {
			item["pattern"] = p.Pattern
		}
	}
	item["description"] = p.Doc
	if p.Kind == actions.StringList {
		return map[string]any{"description": p.Doc, "anyOf": []any{item, map[string]any{"type": "array", "items": item}}}
	}
	return item
}
