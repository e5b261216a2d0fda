package rules

import (
	"math"
	"reflect"

	"github.com/expr-lang/expr/ast"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// builtin walks a call of one of expr's builtins: a loop over a collection
// with a predicate, or a function.
func (w *walker) builtin(n *ast.BuiltinNode) val {
	if len(n.Arguments) >= 2 {
		if p, ok := n.Arguments[1].(*ast.PredicateNode); ok {
			return w.predicate(n, p)
		}
	}
	args := make([]val, len(n.Arguments))
	for i, a := range n.Arguments {
		args[i] = w.visit(a)
	}
	w.step(callSteps)
	return w.function(n, args)
}

// predicate walks all, any, map, filter, reduce, ...: the predicate runs
// once per item (early exits are not counted on: the worst case runs all).
func (w *walker) predicate(n *ast.BuiltinNode, p *ast.PredicateNode) val {
	coll := w.visit(n.Arguments[0])
	var extra []val
	for _, a := range n.Arguments[2:] {
		extra = append(extra, w.visit(a))
	}
	w.step(1)
	var acc val
	if n.Name == "reduce" {
		acc = w.elemOf(coll)
		if len(extra) > 0 {
			acc = union(acc, extra[0])
		}
		// An accumulator that is text or a list may grow at every item, by
		// as much as it is: its size has no bound the walk can give.
		t := elemType(n.Arguments[0].Type())
		if len(n.Arguments) > 2 {
			t = n.Arguments[2].Type()
		}
		if !isScalar(t) {
			acc.size, acc.total, acc.bound, acc.owner = math.Inf(1), math.Inf(1), 0, -1
			if acc.items > 0 || isList(t) {
				acc.items = math.Inf(1)
			}
		}
	}
	var body val
	id, leaf := w.loop(n, n.Name+" over "+short(n.Arguments[0]), coll, acc, func() {
		w.step(2) // the iteration: the index, the item
		body = w.visit(p.Node)
	})
	switch n.Name {
	case "find", "findLast":
		return w.elemOf(coll)
	case "filter":
		w.step(coll.items / itemsPerStep)
		return coll
	case "map":
		w.step(coll.items / itemsPerStep)
		e := body
		out := val{items: coll.items, elem: &e, total: mul(coll.items, body.size), owner: -1}
		if body.owner == id && leaf {
			// Parts of distinct items: together no larger than the input.
			out.total = min(out.total, body.bound)
			out.owner, out.bound, out.distinct, out.pool = coll.owner, body.bound, true, coll.pool
		}
		e.owner = -1
		out.size = out.total
		return out
	case "groupBy":
		g := coll
		g.owner = -1
		return val{items: coll.items, elem: &g, total: coll.total, size: coll.total, owner: -1}
	case "sortBy":
		w.sort(n, coll.items, body)
		return coll
	case "reduce":
		return acc
	}
	return scalarVal()
}

// sort charges n·log2(n) comparisons of values like v.
func (w *walker) sort(n ast.Node, items float64, v val) {
	c := mul(items, math.Max(math.Log2(items), 1))
	w.step(c)
	w.scanTimes(n, "sorting", v, 1, c)
}

// function walks a builtin that is not a loop with a predicate.
func (w *walker) function(n *ast.BuiltinNode, a []val) val {
	arg := func(i int) val {
		if i < len(a) {
			return a[i]
		}
		return textVal(0)
	}
	name := n.Name
	switch name {
	case "len", "type", "abs", "ceil", "floor", "round", "now", "timezone", "first", "last", "get":
		switch name {
		case "first", "last", "get":
			if name == "get" {
				w.scan(n, "get", arg(1), 1)
			}
			return w.elemOf(arg(0))
		}
		return scalarVal()
	case "int", "float", "duration", "date":
		w.step(parseSteps)
		for _, v := range a {
			w.scan(n, name, w.textOf(v), 1)
		}
		return scalarVal()
	case "string":
		t := w.textOf(arg(0))
		w.scan(n, name, t, 1)
		return t
	case "toJSON":
		t := w.textOf(arg(0))
		if e := w.elemOf(arg(0)); !arg(0).object && !e.object {
			// Text is escaped: up to 6 bytes a byte (the JSON bound of an
			// object counts it already).
			t.size, t.bound = mul(t.size, 6), mul(t.bound, 6)
		}
		t.size += mul(arg(0).items, 16)
		w.scan(n, name, t, jsonWeight)
		return t
	case "fromJSON":
		// Whatever the document holds is no larger than the document.
		w.scan(n, name, arg(0), jsonWeight)
		v := &val{size: arg(0).size, total: arg(0).size, items: arg(0).size/2 + 1, owner: -1}
		v.elem = v
		return *v
	case "trim", "trimPrefix", "trimSuffix", "upper", "lower", "toBase64", "fromBase64":
		s := arg(0)
		for _, v := range a {
			w.scan(n, name, v, 1)
		}
		switch name {
		case "upper", "lower": // case mapping may grow UTF-8 by half
			s.size, s.bound = mul(s.size, 1.5), mul(s.bound, 1.5)
		case "toBase64":
			s.size, s.bound = mul(s.size, 4.0/3)+4, mul(s.bound, 4.0/3)
		}
		return s
	case "split", "splitAfter":
		s := arg(0)
		w.search(n, name, s, n.Arguments[1])
		e := textVal(s.size)
		return val{items: s.size + 1, elem: &e, total: s.size, size: s.size, owner: s.owner, bound: s.bound, distinct: true}
	case "replace":
		s, repl := arg(0), arg(2)
		w.search(n, name, s, n.Arguments[1])
		// An empty old text inserts the new one at every rune.
		out := textVal(mul(s.size+1, repl.size+1))
		if o, ok := n.Arguments[1].(*ast.StringNode); ok && len(o.Value) > 0 {
			out = textVal(s.size * max(1, repl.size/float64(len(o.Value))))
		}
		w.scan(n, name, out, 1)
		return out
	case "repeat":
		times := 1e6 // repeat refuses more
		if k, ok := n.Arguments[1].(*ast.IntegerNode); ok {
			times = float64(max(k.Value, 0))
		}
		out := textVal(mul(arg(0).size, times))
		w.scan(n, name, out, 1)
		return out
	case "join":
		l := arg(0)
		t := val{size: l.total + mul(l.items, arg(1).size), bound: l.bound, owner: l.owner}
		w.scan(n, name, t, 1)
		return t
	case "indexOf", "lastIndexOf":
		w.search(n, name, arg(0), n.Arguments[1])
		w.scan(n, name, arg(1), 1)
		return scalarVal()
	case "hasPrefix", "hasSuffix":
		w.scanMin(n, name, arg(0), arg(1))
		return scalarVal()
	case "max", "min", "mean", "median", "sum", "count":
		if len(a) == 1 && (a[0].items > 0 || isList(n.Arguments[0].Type())) {
			w.step(a[0].items)
			if name == "median" {
				w.sort(n, a[0].items, scalarVal())
			}
			if name == "max" || name == "min" {
				return w.elemOf(a[0])
			}
			return scalarVal()
		}
		var u val
		for _, v := range a {
			u = union(u, v)
		}
		return u
	case "take":
		l := arg(0)
		if k, ok := n.Arguments[1].(*ast.IntegerNode); ok {
			l.items = min(l.items, float64(max(k.Value, 0)))
			l.total = min(l.total, mul(l.items, w.elemOf(l).size))
		}
		w.step(l.items / itemsPerStep)
		return l
	case "reverse":
		w.step(arg(0).items / itemsPerStep)
		return arg(0)
	case "keys", "values", "toPairs", "fromPairs":
		m := arg(0)
		w.step(m.items / itemsPerStep)
		out := m
		out.owner, out.distinct = -1, false
		switch name {
		case "keys":
			e := textVal(m.size)
			out.elem = &e
		case "toPairs":
			e := val{items: 2, elem: m.elem, total: m.size, size: m.size, owner: -1}
			out.elem = &e
		case "fromPairs":
			out.elem = w.elemOf(m).elem
		}
		return out
	case "uniq":
		l := arg(0)
		pairs := mul(l.items, l.items)
		w.step(pairs)
		w.scanTimes(n, name, w.elemOf(l), 1, pairs)
		out := l
		out.owner = -1
		return out
	case "concat":
		out := concat(a...)
		w.step(out.items / itemsPerStep)
		return out
	case "flatten":
		l := arg(0)
		inner := w.elemOf(l)
		out := val{items: mul(l.items, max(inner.items, 1)), total: l.total, size: l.size, owner: -1}
		if inner.elem != nil {
			out.elem = inner.elem
		} else {
			out.elem = &inner
		}
		w.step(out.items / itemsPerStep)
		return out
	case "sort":
		l := arg(0)
		w.step(l.items / itemsPerStep)
		w.sort(n, l.items, w.elemOf(l))
		out := l
		out.owner = -1
		return out
	}
	if len(name) > 3 && name[:3] == "bit" {
		return scalarVal()
	}
	w.unknown(n)
	return scalarVal()
}

// call walks a call of a function of the environment or a method.
func (w *walker) call(n *ast.CallNode) val {
	args := make([]val, len(n.Arguments))
	for i, a := range n.Arguments {
		args[i] = w.visit(a)
	}
	w.step(callSteps)
	name := ""
	switch c := n.Callee.(type) {
	case *ast.IdentifierNode:
		name = c.Value
	case *ast.MemberNode:
		recv := w.visit(c.Node)
		w.step(methodSteps)
		t := c.Node.Type()
		if t == timeType {
			for _, v := range args {
				w.scan(n, "a time method", v, 1)
			}
			if isText(n.Type()) {
				return textVal(64 + 2*args0(args).size)
			}
			return scalarVal()
		}
		switch m := propName(c); m {
		case "Get":
			// Decodes the incident's document once, then looks up a key.
			w.once(w.m.bytes * jsonWeight / bytesPerStep)
			return w.m.typed(nil, recv.owner)
		case "Devices", "Users", "Files", "FileHashes", "IPs", "URLs", "EvidenceOf":
			name = "devices" // one of the helpers, whatever its name
		default:
			// Anything else (JSON, Snapshot): as much as encoding the receiver.
			v := w.m.typed(reflect.TypeOf(""), -1)
			v.size, v.bound = w.m.json, w.m.json
			w.scan(n, m, v, jsonWeight)
			return w.m.typed(n.Type(), -1)
		}
	}
	switch name {
	case optionalFunc:
		return args0(args)
	case "devices", "users", "files", "fileHashes", "ips", "urls", "evidence":
		for _, v := range args[min(1, len(args)):] {
			w.scan(n, name, v, 1)
		}
		w.once(w.m.deriveSteps)
		l := w.m.typed(n.Type(), -1)
		l.items, l.pool = w.m.evidence, w.m.evidence
		return l
	case "changed":
		// A property that is not text or a time is compared as JSON.
		w.step(reflectSteps)
		if s, ok := n.Arguments[0].(*ast.StringNode); ok {
			if f, ok := fieldByTag(reflect.TypeOf(incident.Incident{}), s.Value); ok && (isScalar(f.Type) || f.Type.Kind() == reflect.String) {
				w.scan(n, "changed", textVal(w.m.bytes), 1)
				return scalarVal()
			}
		}
		w.scan(n, "changed", val{size: w.m.json, owner: -1}, 2*jsonWeight)
		return scalarVal()
	case "now":
		return w.m.typed(n.Type(), -1)
	}
	for _, v := range args {
		w.scan(n, name, v, 1)
	}
	return w.m.typed(n.Type(), -1)
}

func args0(a []val) val {
	if len(a) == 0 {
		return scalarVal()
	}
	return a[0]
}

// textOf is v as text (string(), a template): a text itself, the items of a
// list, the fields of an object.
func (w *walker) textOf(v val) val {
	t := val{size: v.size, bound: v.bound, owner: v.owner}
	if v.items > 0 {
		t.size = v.total + mul(v.items, 2)
	}
	return t
}

// elemType is the type of t's items (nil when unknown).
func elemType(t reflect.Type) reflect.Type {
	if isList(t) {
		return t.Elem()
	}
	return nil
}

func isList(t reflect.Type) bool {
	return t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map)
}
