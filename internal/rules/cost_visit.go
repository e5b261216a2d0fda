package rules

import (
	"math"
	"reflect"
	"time"

	"github.com/expr-lang/expr/ast"
)

var timeType = reflect.TypeOf(time.Time{})

// visit walks a node and returns what it yields.
func (w *walker) visit(n ast.Node) val {
	switch n := n.(type) {
	case nil:
		return scalarVal()
	case *ast.NilNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		w.step(1)
		return scalarVal()
	case *ast.StringNode:
		w.step(1)
		return textVal(float64(len(n.Value)))
	case *ast.BytesNode:
		w.step(1)
		return textVal(float64(len(n.Value)))
	case *ast.ConstantNode:
		w.step(1)
		return constVal(n.Value)
	case *ast.IdentifierNode:
		w.step(1)
		return w.identifier(n)
	case *ast.PointerNode:
		w.step(1)
		if len(w.frames) == 0 {
			return scalarVal()
		}
		f := w.frames[len(w.frames)-1]
		switch n.Name {
		case "":
			return f.item
		case "acc":
			return f.acc
		}
		return scalarVal()
	case *ast.UnaryNode:
		w.visit(n.Node)
		w.step(1)
		return scalarVal()
	case *ast.BinaryNode:
		return w.binary(n)
	case *ast.ChainNode:
		return w.visit(n.Node)
	case *ast.MemberNode:
		return w.member(n)
	case *ast.SliceNode:
		v := w.visit(n.Node)
		w.visit(n.From)
		w.visit(n.To)
		w.step(1)
		return v
	case *ast.CallNode:
		return w.call(n)
	case *ast.BuiltinNode:
		return w.builtin(n)
	case *ast.PredicateNode:
		return w.visit(n.Node)
	case *ast.ConditionalNode:
		w.visit(n.Cond)
		a, b := w.visit(n.Exp1), w.visit(n.Exp2)
		w.step(1)
		return union(a, b)
	case *ast.VariableDeclaratorNode:
		v := w.visit(n.Value)
		w.step(1)
		old, had := w.vars[n.Name]
		if w.vars == nil {
			w.vars = map[string]val{}
		}
		w.vars[n.Name] = v
		r := w.visit(n.Expr)
		if had {
			w.vars[n.Name] = old
		} else {
			delete(w.vars, n.Name)
		}
		return r
	case *ast.SequenceNode:
		v := scalarVal()
		for _, c := range n.Nodes {
			v = w.visit(c)
		}
		return v
	case *ast.ArrayNode:
		var e val
		total := 0.0
		for _, c := range n.Nodes {
			v := w.visit(c)
			e = union(e, v)
			total += v.size
		}
		w.step(1 + float64(len(n.Nodes))/itemsPerStep)
		e.owner = -1
		return val{items: float64(len(n.Nodes)), elem: &e, total: total, size: total, owner: -1}
	case *ast.MapNode:
		var e val
		total := 0.0
		for _, c := range n.Pairs {
			p, ok := c.(*ast.PairNode)
			if !ok {
				w.visit(c)
				continue
			}
			k, v := w.visit(p.Key), w.visit(p.Value)
			e = union(e, v)
			total += k.size + v.size
		}
		w.step(1 + float64(len(n.Pairs))/itemsPerStep)
		e.owner = -1
		return val{items: float64(len(n.Pairs)), elem: &e, total: total, size: total, owner: -1}
	case *ast.PairNode:
		w.visit(n.Key)
		return w.visit(n.Value)
	}
	w.unknown(n)
	return scalarVal()
}

// unknown charges a node this walk does not know (of a newer expr): no
// bound.
func (w *walker) unknown(n ast.Node) {
	w.site(siteKey{node: n, text: true}, unknownOp, 0).steps = math.Inf(1)
}

// unknownOp marks the site of a node the walk does not know.
const unknownOp = "?"

// constVal is what is known of a constant the checker or a patch made.
func constVal(c any) val {
	switch c := c.(type) {
	case string:
		return textVal(float64(len(c)))
	case []byte:
		return textVal(float64(len(c)))
	}
	rv := reflect.ValueOf(c)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		var e val
		total := 0.0
		if rv.Kind() == reflect.Map {
			for _, k := range rv.MapKeys() {
				v := constVal(rv.MapIndex(k).Interface())
				e, total = union(e, v), total+v.size
			}
		} else {
			for i := range rv.Len() {
				v := constVal(rv.Index(i).Interface())
				e, total = union(e, v), total+v.size
			}
		}
		return val{items: float64(rv.Len()), elem: &e, total: total, size: total, owner: -1}
	}
	return scalarVal()
}

func (w *walker) identifier(n *ast.IdentifierNode) val {
	if v, ok := w.vars[n.Value]; ok {
		return v
	}
	if n.Value == "lists" {
		return w.m.allLists
	}
	return w.m.typed(n.Type(), -1)
}

func (w *walker) member(n *ast.MemberNode) val {
	if isIdent(n.Node, "lists") {
		if s, ok := n.Property.(*ast.StringNode); ok {
			w.step(2)
			return w.m.lists[s.Value]
		}
	}
	obj := w.visit(n.Node)
	key := w.visit(n.Property)
	t := n.Node.Type()
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	kind := reflect.Interface
	if t != nil {
		kind = t.Kind()
	}
	switch kind {
	case reflect.Struct:
		w.step(1)
		return w.m.typed(n.Type(), obj.owner)
	case reflect.Map:
		w.step(reflectSteps)
		w.scan(n, "a map lookup", key, 1)
	case reflect.Interface:
		w.step(reflectSteps)
	default:
		w.step(1)
	}
	switch kind {
	case reflect.String:
		return textVal(4)
	}
	if obj.items == 0 && obj.elem == nil {
		return w.m.typed(n.Type(), obj.owner)
	}
	return w.elemOf(obj)
}

func (w *walker) binary(n *ast.BinaryNode) val {
	l, r := w.visit(n.Left), w.visit(n.Right)
	w.step(1)
	switch n.Operator {
	case "==", "!=", "<", ">", "<=", ">=", "startsWith", "endsWith":
		if !isScalar(n.Left.Type()) && !isScalar(n.Right.Type()) {
			w.scanMin(n, n.Operator, l, r)
		}
	case "contains":
		w.search(n, "contains", l, n.Right)
		w.scan(n, "contains", r, 1)
	case "matches":
		w.matches(n, l, r)
	case "in":
		w.in(n, l, r)
	case "..":
		items := float64(memoryBudget)
		if a, ok := n.Left.(*ast.IntegerNode); ok {
			if b, ok := n.Right.(*ast.IntegerNode); ok {
				items = min(max(float64(b.Value-a.Value+1), 0), memoryBudget)
			}
		}
		w.step(items / itemsPerStep)
		e := scalarVal()
		return val{items: items, elem: &e, owner: -1}
	case "+":
		if isText(n.Type()) || isText(n.Left.Type()) || isText(n.Right.Type()) {
			w.scan(n, "+", l, 1)
			w.scan(n, "+", r, 1)
			return textVal(l.size + r.size)
		}
		if l.items > 0 || r.items > 0 {
			w.step((l.items + r.items) / itemsPerStep)
			return concat(l, r)
		}
	case "??":
		return union(l, r)
	}
	return scalarVal()
}

// in is a hash lookup in a map, or a search of a list.
func (w *walker) in(n *ast.BinaryNode, l, r val) {
	t := n.Right.Type()
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Kind() == reflect.Map || t.Kind() == reflect.Struct) {
		w.step(reflectSteps)
		w.scan(n, "in", l, 1)
		return
	}
	if r.items == 0 {
		return
	}
	w.loop(n, "in over "+short(n.Right), r, val{}, func() {
		w.step(1)
		w.scanMin(n, "in", l, w.frames[len(w.frames)-1].item)
	})
}

// matches is a regular expression match: per byte of the text, as many
// instructions as regexLive finds (a pattern that is not a literal is
// compiled at every run, and may have as many instructions as bytes).
func (w *walker) matches(n *ast.BinaryNode, l, r val) {
	if s, ok := n.Right.(*ast.StringNode); ok {
		w.scan(n, "matches", l, regexBase+regexWeight*float64(regexLive(s.Value)))
		return
	}
	w.scan(n, "matches (compiling the pattern)", r, jsonWeight)
	w.scan(n, "matches", l, regexBase+regexWeight*max(r.size, 1))
}

// search charges strings.Index over text for a needle.
func (w *walker) search(n ast.Node, op string, text val, needle ast.Node) {
	weight := float64(searchWeight)
	if s, ok := needle.(*ast.StringNode); ok && len(s.Value) <= 63 {
		weight = shortSearchWeight
	}
	w.scan(n, op, text, weight)
}

func concat(vs ...val) val {
	var u val
	items, total := 0.0, 0.0
	for _, v := range vs {
		u = union(u, v)
		items += v.items
		total += v.total
	}
	u.items, u.total, u.size, u.owner, u.distinct, u.pool = items, total, total, -1, false, 0
	return u
}

func isScalar(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return t == timeType
}

// isText reports whether t is a string, or may be one (any).
func isText(t reflect.Type) bool {
	return t == nil || t.Kind() == reflect.String || t.Kind() == reflect.Interface
}

// short is an expression's source for messages, cut to a readable length.
func short(n ast.Node) string {
	s := n.String()
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}
