package rules

import (
	"reflect"
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
	// eq[src] maps a literal to the atoms "some value of src equals it".
	eq []map[string][]int
	// rules[i] are the clauses of rule i as atom ids; nil means always a candidate.
	rules   [][][]int
	scratch sync.Pool
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
		clauses := analyse(r.When)
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
					}
				}
				ids = append(ids, id)
			}
			if ok {
				compiled = append(compiled, ids)
			}
		}
		ix.rules[i] = compiled
	}
	return ix
}

// scratch is the per-event state of the index.
type scratch struct {
	values [][]string
	done   []bool
	atoms  []bool
}

// candidates returns, for each rule, whether it can match inc. The result
// must be released with release.
func (ix *index) candidates(inc *incident.Incident) *scratch {
	s, _ := ix.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{values: make([][]string, len(ix.sources)), done: make([]bool, len(ix.sources)), atoms: make([]bool, len(ix.atoms))}
	}
	clear(s.atoms)
	for sid, src := range ix.sources {
		vals := src.extract(inc, s.values[sid][:0])
		s.values[sid] = vals
		eq := ix.eq[sid]
		if len(eq) == 0 {
			continue
		}
		for _, v := range vals {
			for _, id := range eq[v] {
				s.atoms[id] = true
			}
		}
	}
	for id, a := range ix.atoms {
		if a.pred == predEq {
			continue
		}
		s.atoms[id] = ix.test(a, s.values[a.src])
	}
	return s
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

// can reports whether rule i can match, given the event's atoms.
func (ix *index) can(s *scratch, i int) bool {
	for _, c := range ix.rules[i] {
		ok := false
		for _, id := range c {
			if s.atoms[id] {
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

func (ix *index) release(s *scratch) { ix.scratch.Put(s) }

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
