package ruletest

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// maxExpanded bounds the nodes of a document with its aliases expanded, as
// reading it visits them (a few aliases can name a huge tree).
const maxExpanded = 1 << 20

// expandedSize returns the number of nodes of n with aliases expanded, up
// to maxExpanded.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int) int {
	if size, ok := memo[n]; ok {
		return size
	}
	memo[n] = maxExpanded // an alias inside what it names
	size := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		size += expandedSize(n.Alias, memo)
	}
	for _, c := range n.Content {
		if size >= maxExpanded {
			break
		}
		size += expandedSize(c, memo)
	}
	size = min(size, maxExpanded)
	memo[n] = size
	return size
}

// pair is a key of a mapping and its value.
type pair struct{ key, val *yaml.Node }

// resolve follows aliases (*name) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// pairs returns the pairs of mapping n with its merge keys (<<: *base)
// expanded as YAML does: n's own keys, then the merged keys n does not have.
// It reports keys that are not names and keys n repeats.
func (f *fileLoader) pairs(n *yaml.Node) []pair {
	return f.mergedPairs(n, map[*yaml.Node]bool{n: true})
}

// mergedPairs returns n's pairs; merged are the mappings already merged,
// whose keys merging again would not change (the first one set wins).
func (f *fileLoader) mergedPairs(n *yaml.Node, merged map[*yaml.Node]bool) []pair {
	var own, inherited []pair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			for _, m := range f.mergeSources(k, v) {
				if !merged[m] {
					merged[m] = true
					inherited = append(inherited, f.mergedPairs(m, merged)...)
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			f.errorf(k, "a key is a name, not a %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			f.errorf(k, "%q is already set at line %d", k.Value, f.src.line(first))
			continue
		}
		seen[k.Value] = k
		own = append(own, pair{k, v})
	}
	for _, p := range inherited {
		if _, ok := seen[p.key.Value]; !ok {
			seen[p.key.Value] = p.key
			own = append(own, p)
		}
	}
	return own
}

// mergeSources returns the mappings a merge key's value names.
func (f *fileLoader) mergeSources(k, v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v.Kind == yaml.MappingNode {
		return []*yaml.Node{v}
	}
	var out []*yaml.Node
	if v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			if m := resolve(item); m.Kind == yaml.MappingNode {
				out = append(out, m)
				continue
			}
			f.errorf(item, "<<: want a mapping or a list of mappings to merge")
		}
		return out
	}
	f.errorf(k, "<<: want a mapping or a list of mappings to merge")
	return nil
}

// fields reads mapping n whose keys are among known: it returns each key's
// pair and reports the other keys, with the known key nearest to each
// (returned in suggested).
func (f *fileLoader) fields(n *yaml.Node, known ...string) (got map[string]pair, suggested map[string]bool) {
	got, suggested = map[string]pair{}, map[string]bool{}
	for _, p := range f.pairs(n) {
		if slices.Contains(known, p.key.Value) {
			got[p.key.Value] = p
			continue
		}
		if m := actions.Closest(p.key.Value, known); m != "" {
			suggested[m] = true
			f.errorf(p.key, "unknown field %q (did you mean %q?)", p.key.Value, m)
			continue
		}
		f.errorf(p.key, "unknown field %q (want %s)", p.key.Value, strings.Join(known, ", "))
	}
	return got, suggested
}

func kindName(n *yaml.Node) string {
	switch resolve(n).Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "value"
	}
	return "node"
}
