package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// rawRule is a rule as parsed from YAML, before its expressions are compiled.
type rawRule struct {
	src         *source
	node        *yaml.Node
	id          string
	idNode      *yaml.Node
	description string
	onCreated   bool
	onUpdated   bool
	order       int
	orderNode   *yaml.Node
	enabled     bool
	expires     time.Time
	expiresNode *yaml.Node
	when        string
	whenNode    *yaml.Node
	actions     []rawAction
	stop        bool
}

// rawAction is one "- name: params" item.
type rawAction struct {
	name  string
	key   *yaml.Node
	value *yaml.Node
}

var (
	topKeys  = []string{"lists", "rules"}
	ruleKeys = []string{"id", "description", "on", "order", "enabled", "expires", "when", "actions", "stop"}
	idRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

func (l *loader) parseDocument(src *source, doc *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return
	}
	if root.Kind != yaml.MappingNode {
		l.errorAt(src.at(root), "a rule file is a mapping with lists: and rules:")
		return
	}
	l.eachKey(src, root, topKeys, func(key, val *yaml.Node) {
		switch key.Value {
		case "lists":
			l.parseLists(src, val)
		case "rules":
			if isNull(val) {
				return
			}
			if val.Kind != yaml.SequenceNode {
				l.errorAt(src.at(val), "rules: want a list of rules")
				return
			}
			for _, n := range val.Content {
				l.parseRule(src, n)
			}
		}
	})
}

// eachKey walks a mapping, reporting duplicate and unknown keys.
func (l *loader) eachKey(src *source, m *yaml.Node, known []string, fn func(key, val *yaml.Node)) {
	l.eachKeyOf(src, m, "field", known, fn)
}

// eachKeyOf is eachKey with the noun of the keys ("field", "tag parameter").
func (l *loader) eachKeyOf(src *source, m *yaml.Node, noun string, known []string, fn func(key, val *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i], m.Content[i+1]
		if seen[key.Value] {
			l.errorAt(src.at(key), "%s: defined twice", key.Value)
			continue
		}
		seen[key.Value] = true
		if !slices.Contains(known, key.Value) {
			l.errorAt(src.at(key), "unknown %s %q%s (want one of %s)", noun, key.Value, didYouMean(key.Value, known), strings.Join(known, ", "))
			continue
		}
		fn(key, val)
	}
}

func (l *loader) parseRule(src *source, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		l.errorAt(src.at(n), "a rule is a mapping with id, order, when and actions")
		return
	}
	r := &rawRule{src: src, node: n, enabled: true, onCreated: true, onUpdated: true}
	var hasActions bool
	var actionsNode *yaml.Node
	l.eachKey(src, n, ruleKeys, func(key, val *yaml.Node) {
		switch key.Value {
		case "id":
			r.idNode = val
			if s, ok := l.str(src, val, "id"); ok {
				if !idRe.MatchString(s) {
					l.errorAt(src.at(val), "id %q: use letters, digits, '.', '_' and '-'", s)
				}
				r.id = s
			}
		case "description":
			r.description, _ = l.str(src, val, "description")
		case "on":
			r.onCreated, r.onUpdated = l.changeTypes(src, val)
		case "order":
			if val.Kind == yaml.ScalarNode && val.Tag == "!!int" {
				o, err := strconv.Atoi(val.Value)
				if err == nil {
					r.order, r.orderNode = o, val
					return
				}
			}
			l.errorAt(src.at(val), "order: want an integer, got %q", val.Value)
		case "enabled":
			r.enabled = l.boolean(src, val, "enabled")
		case "stop":
			r.stop = l.boolean(src, val, "stop")
		case "expires":
			r.expires, r.expiresNode = l.timestamp(src, val), val
		case "when":
			if val.Kind != yaml.ScalarNode || isNull(val) {
				l.errorAt(src.at(val), "when: want an expression")
				return
			}
			r.when, r.whenNode = val.Value, val
		case "actions":
			hasActions, actionsNode = true, val
			r.actions = l.parseActions(src, val)
		}
	})
	at := src.at(n)
	if r.idNode == nil {
		l.errorAt(at, "rule without id")
	}
	if r.orderNode == nil && !hasKey(n, "order") {
		l.errorAt(at, "rule %s: order missing (every rule needs an explicit order)", r.label())
	}
	if r.whenNode == nil && !hasKey(n, "when") {
		l.errorAt(at, "rule %s: when missing (write `when: \"true\"` to match every incident)", r.label())
	}
	if !hasActions && !r.stop {
		l.errorAt(at, "rule %s: actions missing (a rule without actions must set stop: true)", r.label())
	} else if hasActions && len(r.actions) == 0 && !r.stop && actionsNode.Kind == yaml.SequenceNode && len(actionsNode.Content) == 0 {
		l.errorAt(src.at(actionsNode), "rule %s: no actions (a rule without actions must set stop: true)", r.label())
	}
	l.raws = append(l.raws, r)
}

func (r *rawRule) label() string {
	if r.id == "" {
		return "(no id)"
	}
	return r.id
}

func (l *loader) parseActions(src *source, n *yaml.Node) []rawAction {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		l.errorAt(src.at(n), "actions: want a list of `- action: parameters` items")
		return nil
	}
	var out []rawAction
	for _, item := range n.Content {
		if item.Kind != yaml.MappingNode || len(item.Content) != 2 {
			hint := ""
			if item.Kind == yaml.ScalarNode {
				hint = fmt.Sprintf(" (write `- %s: ...`)", item.Value)
			}
			l.errorAt(src.at(item), "an action is one `name: parameters` pair%s", hint)
			continue
		}
		out = append(out, rawAction{name: item.Content[0].Value, key: item.Content[0], value: item.Content[1]})
	}
	return out
}

func (l *loader) changeTypes(src *source, n *yaml.Node) (created, updated bool) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	if len(items) == 0 {
		l.errorAt(src.at(n), "on: empty; want created, updated or both")
		return true, true
	}
	for _, it := range items {
		switch {
		case it.Kind == yaml.ScalarNode && it.Value == string(incident.Created):
			created = true
		case it.Kind == yaml.ScalarNode && it.Value == string(incident.Updated):
			updated = true
		default:
			l.errorAt(src.at(it), "on: %q is not created or updated", it.Value)
		}
	}
	return created, updated
}

func (l *loader) str(src *source, n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		l.errorAt(src.at(n), "%s: want a string", field)
		return "", false
	}
	return n.Value, true
}

func (l *loader) boolean(src *source, n *yaml.Node, field string) bool {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	}
	l.errorAt(src.at(n), "%s: want true or false, got %q", field, n.Value)
	return false
}

func (l *loader) timestamp(src *source, n *yaml.Node) time.Time {
	if n.Kind == yaml.ScalarNode {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, n.Value); err == nil {
				return t
			}
		}
	}
	l.errorAt(src.at(n), "expires: %q is not a time (write 2027-01-01 or 2027-01-01T00:00:00Z)", n.Value)
	return time.Time{}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}
