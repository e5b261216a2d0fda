package rules

// WithoutIndex returns a copy of the rule set that runs every rule (no
// prefilter), for tests that prove the prefilter never changes a plan.
func (rs *RuleSet) WithoutIndex() *RuleSet {
	return &RuleSet{rules: rs.rules, lists: rs.lists, files: rs.files, registry: rs.registry, fields: rs.fields, prev: rs.prev, prevFields: rs.prevFields, project: rs.project}
}

// IndexedClauses returns the number of clauses the prefilter found per rule id.
func (rs *RuleSet) IndexedClauses() map[string]int {
	out := map[string]int{}
	for i, r := range rs.rules {
		out[r.ID] = len(rs.index.rules[i])
	}
	return out
}
