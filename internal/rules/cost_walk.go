package rules

import (
	"reflect"

	"github.com/expr-lang/expr/ast"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// val is what the cost walk knows of a value: bounds on its size, and which
// part of the input it is.
type val struct {
	size  float64 // text: its bytes; another value: the bytes of its text or JSON form
	items float64 // a list or a map: its items (0: not a collection)
	elem  *val    // the items (nil: not a collection, or unknown)
	total float64 // a list: its items' sizes together
	// owner is the loop frame (by id) whose item this value is a part of;
	// bound caps the sizes of such parts over all the distinct items of that
	// loop's nest (every text of the incident together is no longer than
	// the incident).
	owner int
	bound float64
	// distinct: the items are distinct parts of the input (the alerts, an
	// alert's evidence); pool bounds the items of such lists over all the
	// distinct items of the loop nest that owns them (the evidence of all
	// the alerts together).
	distinct bool
	pool     float64
	object   bool // a struct of the input: its size is that of its JSON form
}

func scalarVal() val           { return val{size: 24, owner: -1} }
func textVal(size float64) val { return val{size: size, owner: -1} }

// union is a value that may be a or b.
func union(a, b val) val {
	u := val{size: max(a.size, b.size), items: max(a.items, b.items), total: max(a.total, b.total),
		bound: max(a.bound, b.bound), pool: max(a.pool, b.pool), owner: -1, distinct: a.distinct && b.distinct, object: a.object || b.object}
	if a.owner == b.owner {
		u.owner = a.owner
	}
	switch {
	case a.elem != nil && b.elem != nil && a.elem != b.elem:
		e := union(*a.elem, *b.elem)
		u.elem = &e
	case a.elem != nil:
		u.elem = a.elem
	default:
		u.elem = b.elem
	}
	return u
}

// mul multiplies bounds; nothing times an unbounded count is nothing.
func mul(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a * b
}

// frame is a loop being walked: a predicate builtin, or the search of in.
type frame struct {
	id     int
	node   ast.Node
	what   string // "any over incident.alerts"
	item   val    // #
	acc    val    // #acc
	factor float64
	head   int  // the frame heading its nest, which holds the nest's factor
	leaf   bool // its items are distinct parts of the input, each visited once per run of the nest
}

// siteKey is where work is charged: a loop, or an operation on text.
type siteKey struct {
	node ast.Node
	text bool
}

// site is the work charged to one place of the expression.
type site struct {
	node  ast.Node
	op    string  // the operation on text ("contains"), or "" for a loop
	size  float64 // the text's size per evaluation
	loops []string
	steps float64
}

// walker estimates the worst-case steps of one expression.
type walker struct {
	m      *costModel
	frames []frame
	nextID int
	vars   map[string]val
	sites  map[siteKey]*site
	order  []*site
}

// mult is how many times the current node runs per evaluation.
func (w *walker) mult() float64 {
	m := 1.0
	for i, f := range w.frames {
		if f.head == i {
			m = mul(m, f.factor)
		}
	}
	return m
}

func (w *walker) site(k siteKey, op string, size float64) *site {
	s, ok := w.sites[k]
	if !ok {
		s = &site{node: k.node, op: op, size: size}
		for i := len(w.frames) - 1; i >= 0; i-- {
			s.loops = append(s.loops, w.frames[i].what)
		}
		w.sites[k] = s
		w.order = append(w.order, s)
	}
	s.size = max(s.size, size)
	return s
}

// step charges steps per run of the current node to the innermost loop.
func (w *walker) step(steps float64) {
	var n ast.Node
	if len(w.frames) > 0 {
		n = w.frames[len(w.frames)-1].node
	}
	w.site(siteKey{node: n}, "", 0).steps += mul(w.mult(), steps)
}

// once charges steps that are spent once per incident whatever the loops.
func (w *walker) once(steps float64) {
	w.site(siteKey{}, "", 0).steps += steps
}

// scan charges reading v (its size, weighted) per run of node n. A part of
// the item of a loop is read once per item: over the distinct items of that
// loop's nest, all such parts together are no larger than v.bound.
func (w *walker) scan(n ast.Node, op string, v val, weight float64) {
	w.scanTimes(n, op, v, weight, 1)
}

func (w *walker) scanTimes(n ast.Node, op string, v val, weight, times float64) {
	bytes := mul(mul(v.size, weight), times)
	if bytes == 0 {
		return
	}
	mult := w.mult()
	amount := mul(mult, bytes)
	if f := w.frameOf(v.owner); f != nil && f.leaf && v.bound > 0 {
		g := w.frames[f.head].factor
		amount = mul(mult/g, min(mul(g, bytes), mul(mul(v.bound, weight), times)))
	}
	w.site(siteKey{node: n, text: true}, op, v.size).steps += amount / bytesPerStep
}

// scanMin charges a comparison that reads no more than the shorter side.
func (w *walker) scanMin(n ast.Node, op string, a, b val) {
	if a.size <= b.size {
		w.scan(n, op, a, 1)
	} else {
		w.scan(n, op, b, 1)
	}
}

func (w *walker) frameOf(id int) *frame {
	if id <= 0 {
		return nil
	}
	for i := range w.frames {
		if w.frames[i].id == id {
			return &w.frames[i]
		}
	}
	return nil
}

// loop walks body once per item of coll, as a frame. A list that is a part
// of the item of an enclosing loop whose items are distinct joins that
// loop's nest: the nest visits at most pool such items in all (10,000
// evidence items over all the alerts, not 1,000 × 10,000). It returns the
// frame's id and whether its items were distinct parts of the input.
func (w *walker) loop(n ast.Node, what string, coll, acc val, body func()) (int, bool) {
	w.nextID++
	f := frame{id: w.nextID, node: n, what: what, acc: acc, factor: max(coll.items, 1), head: len(w.frames), leaf: coll.distinct}
	restore := func() {}
	if o := w.frameOf(coll.owner); o != nil && o.leaf && coll.distinct && coll.pool > 0 {
		h := &w.frames[o.head]
		saved := h.factor
		h.factor = max(min(mul(saved, f.factor), coll.pool), saved)
		f.head, f.factor = o.head, 1
		o.leaf = false
		id := o.id
		restore = func() { w.frameOf(id).leaf = true; w.frames[f.head].factor = saved }
	}
	if coll.elem != nil {
		f.item = *coll.elem
	} else {
		f.item = *w.m.anyItem
	}
	f.item.owner = -1
	if f.leaf {
		f.item.owner = f.id
	}
	w.frames = append(w.frames, f)
	body()
	w.frames = w.frames[:len(w.frames)-1]
	restore()
	return f.id, f.leaf
}

// elemOf is an item of v, a part of what v is a part of.
func (w *walker) elemOf(v val) val {
	e := *w.m.anyItem
	if v.elem != nil {
		e = *v.elem
	}
	e.owner = v.owner
	if v.items == 0 && v.elem == nil && !v.object {
		e = scalarVal()
	}
	return e
}

// typed is a value of type t read from the input (a part of owner's item).
func (m *costModel) typed(t reflect.Type, owner int) val {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		v := *m.anyItem
		v.owner = owner
		return v
	}
	switch t.Kind() {
	case reflect.String:
		return val{size: m.bytes, bound: m.bytes, owner: owner}
	case reflect.Slice, reflect.Array, reflect.Map:
		if t.Elem().Kind() == reflect.Uint8 {
			return val{size: m.bytes, bound: m.bytes, owner: owner}
		}
		n := m.listItems
		switch t.Elem() {
		case reflect.TypeOf(&incident.Alert{}):
			n = m.alerts
		case reflect.TypeOf(&incident.Evidence{}):
			n = m.evidence
		}
		e := m.typed(t.Elem(), -1)
		total := m.json
		if e.items == 0 && e.size == m.bytes {
			total = m.bytes // texts
		}
		return val{items: n, elem: &e, total: total, size: total, bound: total, owner: owner, distinct: true, pool: n}
	case reflect.Struct:
		if t == timeType {
			return val{size: 40, owner: -1}
		}
		return val{size: m.json, bound: m.json, owner: owner, object: true}
	case reflect.Interface:
		v := *m.anyItem
		v.owner = owner
		return v
	}
	return scalarVal()
}
