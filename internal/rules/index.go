package rules

import (
	"math/bits"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// index evaluates the prefilter (see analyze.go): the distinct atoms of all
// rules, once per event, and then each rule's clauses as bit tests.
type index struct {
	lists   Lists
	sources []valueSource
	atoms   []indexAtom
	// eq[src] maps a literal to the atoms "some value of src equals it";
	// eqIDs[src] lists those atoms.
	eq    []map[string][]int
	eqIDs [][]int
	// rules[i] are the clauses of rule i as atom ids; nil means always a candidate.
	rules [][][]int
	// Each rule with clauses is anchored on one of them: anchors[atom] lists
	// the rules anchored on a clause holding that atom. A rule is looked at
	// only when an atom of its anchor holds (or when it is in always: no
	// clause to anchor on). Anchors are equality clauses when a rule has one
	// (decided by map lookups), else list clauses (evaluated eagerly).
	anchors    map[int][]int
	always     []int
	eagerSrc   []int // sources of equality anchors
	eagerAtoms []int // non-equality anchor atoms
	scratch    sync.Pool
}

type indexAtom struct {
	atom
	src int
}

// valueSource extracts the string values of one srcRef from an incident.
type valueSource struct {
	ref     srcRef
	extract func(inc *incident.Incident, dst []string) []string
}

func buildIndex(rules []*Rule, lists Lists) *index {
	ix := &index{lists: lists, rules: make([][][]int, len(rules))}
	srcIDs := map[srcRef]int{}
	atomIDs := map[atom]int{}
	for i, r := range rules {
		clauses := r.clauses
		var compiled [][]int
		for _, c := range clauses {
			ids := make([]int, 0, len(c))
			ok := true
			for _, a := range c {
				sid, found := srcIDs[a.src]
				if !found {
					ext := extractor(a.src)
					if ext == nil {
						ok = false
						break
					}
					sid = len(ix.sources)
					srcIDs[a.src] = sid
					ix.sources = append(ix.sources, valueSource{ref: a.src, extract: ext})
					ix.eq = append(ix.eq, map[string][]int{})
					ix.eqIDs = append(ix.eqIDs, nil)
				}
				if a.pred == predInList {
					if _, known := lists[a.list]; !known {
						ok = false
						break
					}
				}
				id, found := atomIDs[a]
				if !found {
					id = len(ix.atoms)
					atomIDs[a] = id
					ix.atoms = append(ix.atoms, indexAtom{atom: a, src: sid})
					if a.pred == predEq {
						ix.eq[sid][a.lit] = append(ix.eq[sid][a.lit], id)
						ix.eqIDs[sid] = append(ix.eqIDs[sid], id)
					}
				}
				ids = append(ids, id)
			}
			if ok {
				sort.SliceStable(ids, func(a, b int) bool { return ix.atoms[ids[a]].cost() < ix.atoms[ids[b]].cost() })
				compiled = append(compiled, ids)
			}
		}
		// Cheapest clause first: the most expensive atom of a clause decides
		// its cost.
		clauseCost := func(c []int) int { return ix.atoms[c[len(c)-1]].cost() }
		sort.SliceStable(compiled, func(a, b int) bool { return clauseCost(compiled[a]) < clauseCost(compiled[b]) })
		ix.rules[i] = compiled
	}
	ix.anchor(len(rules))
	return ix
}

// anchor picks each rule's anchor clause: the equality-only clause whose
// atoms the fewest rules share (the most selective), else a clause of
// equality and list atoms; rules with neither are always looked at.
func (ix *index) anchor(n int) {
	popularity := map[int]int{}
	for _, clauses := range ix.rules {
		for _, c := range clauses {
			for _, id := range c {
				popularity[id]++
			}
		}
	}
	ix.anchors = map[int][]int{}
	eagerSrc, eagerAtom := map[int]bool{}, map[int]bool{}
	for i := range n {
		best, bestScore := -1, 0
		for ci, c := range ix.rules[i] {
			worst := ix.atoms[c[len(c)-1]].cost() // atoms are sorted by cost
			if worst > 1 {
				continue // substring atoms are too costly to evaluate eagerly
			}
			// A list clause costs a set lookup per value, eagerly: worth it
			// against an equality shared by many rules (severity == "high").
			score := worst * listAnchorPenalty
			for _, id := range c {
				score += popularity[id]
			}
			if best < 0 || score < bestScore {
				best, bestScore = ci, score
			}
		}
		if best < 0 {
			ix.always = append(ix.always, i)
			continue
		}
		for _, id := range ix.rules[i][best] {
			ix.anchors[id] = append(ix.anchors[id], i)
			if ix.atoms[id].pred == predEq {
				eagerSrc[ix.atoms[id].src] = true
			} else {
				eagerAtom[id] = true
			}
		}
	}
	ix.eagerSrc = sortedKeys(eagerSrc)
	ix.eagerAtoms = sortedKeys(eagerAtom)
}

// listAnchorPenalty weighs a list clause against the popularity (rules
// sharing an atom) of an equality clause when choosing an anchor.
const listAnchorPenalty = 100

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// scratch is the per-event state of the index: source values and atom truth
// are computed on first use, so an expensive atom (a substring test) is only
// evaluated when a rule's cheaper clauses all hold.
type scratch struct {
	inc    *incident.Incident
	values [][]string
	have   []bool
	atoms  []int8   // 0: not evaluated, 1: true, 2: false
	cand   []uint64 // rules to look at, as a bit set
}

// candidates prepares the per-event state for inc and marks the rules whose
// anchor holds; release it when done.
func (ix *index) candidates(inc *incident.Incident) *scratch {
	s, _ := ix.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{values: make([][]string, len(ix.sources)), have: make([]bool, len(ix.sources)),
			atoms: make([]int8, len(ix.atoms)), cand: make([]uint64, (len(ix.rules)+63)/64)}
	}
	s.inc = inc
	clear(s.have)
	clear(s.atoms)
	clear(s.cand)
	for _, i := range ix.always {
		s.cand[i/64] |= 1 << (i % 64)
	}
	for _, sid := range ix.eagerSrc {
		ix.values(s, sid) // marks the true equality atoms and their anchored rules
	}
	for _, id := range ix.eagerAtoms {
		if ix.holds(s, id) {
			ix.mark(s, id)
		}
	}
	return s
}

// mark makes the rules anchored on atom id candidates.
func (ix *index) mark(s *scratch, id int) {
	for _, i := range ix.anchors[id] {
		s.cand[i/64] |= 1 << (i % 64)
	}
}

// each calls fn with every candidate rule, in order, until fn returns false.
func (s *scratch) each(fn func(i int) bool) {
	for w, bits := range s.cand {
		for bits != 0 {
			b := bits & -bits
			i := w*64 + bits64TrailingZeros(bits)
			if !fn(i) {
				return
			}
			bits ^= b
		}
	}
}

func (ix *index) values(s *scratch, sid int) []string {
	if !s.have[sid] {
		s.values[sid] = ix.sources[sid].extract(s.inc, s.values[sid][:0])
		s.have[sid] = true
		// Every equality atom of the source is decided at once, by lookup.
		if eq := ix.eq[sid]; len(eq) > 0 {
			for _, id := range ix.eqIDs[sid] {
				s.atoms[id] = 2
			}
			for _, v := range s.values[sid] {
				for _, id := range eq[v] {
					if s.atoms[id] != 1 {
						s.atoms[id] = 1
						ix.mark(s, id)
					}
				}
			}
		}
	}
	return s.values[sid]
}

// holds evaluates one atom (memoised for the event).
func (ix *index) holds(s *scratch, id int) bool {
	if s.atoms[id] == 0 {
		a := ix.atoms[id]
		vals := ix.values(s, a.src)
		if s.atoms[id] == 0 { // not an equality atom
			s.atoms[id] = 2
			if ix.test(a, vals) {
				s.atoms[id] = 1
			}
		}
	}
	return s.atoms[id] == 1
}

func (ix *index) test(a indexAtom, vals []string) bool {
	switch a.pred {
	case predInList:
		set := ix.lists[a.list]
		for _, v := range vals {
			if _, ok := set[v]; ok {
				return true
			}
		}
	case predContains:
		for _, v := range vals {
			if strings.Contains(v, a.lit) {
				return true
			}
		}
	case predStartsWith:
		for _, v := range vals {
			if strings.HasPrefix(v, a.lit) {
				return true
			}
		}
	case predEndsWith:
		for _, v := range vals {
			if strings.HasSuffix(v, a.lit) {
				return true
			}
		}
	}
	return false
}

// can reports whether rule i can match: every clause must have a true atom.
// Clauses and atoms are ordered cheapest first.
func (ix *index) can(s *scratch, i int) bool {
	for _, c := range ix.rules[i] {
		ok := false
		for _, id := range c {
			if ix.holds(s, id) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (ix *index) release(s *scratch) {
	s.inc = nil
	ix.scratch.Put(s)
}

// cost orders atoms: lookups before list scans before substring tests.
func (a atom) cost() int {
	switch a.pred {
	case predEq:
		return 0
	case predInList:
		return 1
	}
	return 2
}

// extractor builds the value extractor of a source, or nil if the source is
// not understood (the clause is then dropped, never the rule).
func extractor(ref srcRef) func(*incident.Incident, []string) []string {
	switch ref.kind {
	case srcIncident:
		f, ok := fieldByTag(reflect.TypeOf(incident.Incident{}), ref.name)
		if !ok {
			return nil
		}
		return func(inc *incident.Incident, dst []string) []string {
			return appendValues(dst, reflect.ValueOf(inc).Elem().FieldByIndex(f.Index))
		}
	case srcHelper:
		var h func(*incident.Incident) []string
		switch ref.name {
		case "fileHashes":
			h = (*incident.Incident).FileHashes
		case "ips":
			h = (*incident.Incident).IPs
		case "urls":
			h = (*incident.Incident).URLs
		default:
			return nil
		}
		return func(inc *incident.Incident, dst []string) []string { return append(dst, h(inc)...) }
	case srcItems:
		return itemsExtractor(ref)
	}
	return nil
}

func itemsExtractor(ref srcRef) func(*incident.Incident, []string) []string {
	var items func(*incident.Incident) reflect.Value
	var elem reflect.Type
	switch ref.name {
	case "devices":
		items, elem = func(inc *incident.Incident) reflect.Value { return reflect.ValueOf(inc.Devices()) }, reflect.TypeOf(incident.Evidence{})
	case "users":
		items, elem = func(inc *incident.Incident) reflect.Value { return reflect.ValueOf(inc.Users()) }, reflect.TypeOf(incident.UserAccount{})
	case "files":
		items, elem = func(inc *incident.Incident) reflect.Value { return reflect.ValueOf(inc.Files()) }, reflect.TypeOf(incident.FileDetails{})
	case "alerts":
		items, elem = func(inc *incident.Incident) reflect.Value { return reflect.ValueOf(inc.Alerts) }, reflect.TypeOf(incident.Alert{})
	default:
		return nil
	}
	f, ok := fieldByTag(elem, ref.field)
	if !ok {
		return nil
	}
	return func(inc *incident.Incident, dst []string) []string {
		list := items(inc)
		for i := range list.Len() {
			it := list.Index(i)
			if it.IsNil() {
				continue
			}
			dst = appendValues(dst, it.Elem().FieldByIndex(f.Index))
		}
		return dst
	}
}

// appendValues appends a string field's value, or a []string field's items.
func appendValues(dst []string, v reflect.Value) []string {
	if v.Kind() == reflect.String {
		return append(dst, v.String())
	}
	for i := range v.Len() {
		dst = append(dst, v.Index(i).String())
	}
	return dst
}

func bits64TrailingZeros(x uint64) int { return bits.TrailingZeros64(x) }
