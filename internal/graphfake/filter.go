package graphfake

import (
	"fmt"
	"strings"
	"time"
)

// The $filter subset the emulator supports (on security/incidents and api/indicators):
//
//	filter     = term *( "and" term )
//	term       = "(" filter ")" / comparison
//	comparison = dateProp ( "eq" / "ge" / "gt" / "le" / "lt" ) dateTimeOffset
//	           / textProp "eq" ( 'single-quoted' / "null" )
//
// Which properties are dateProps and textProps, which literals a textProp accepts and
// whether it compares case-insensitively is the resource's filterSchema (see
// filter_schema.go). dateProps compare as instants; their literals are unquoted RFC 3339
// (fractional seconds optional). In a quoted literal '' stands for one quote. Keywords
// and property names are case-sensitive, as in OData. Anything else is an error, which
// the handler turns into a 400.

const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
)

type compareOp string

const (
	opEq compareOp = "eq"
	opGe compareOp = "ge"
	opGt compareOp = "gt"
	opLe compareOp = "le"
	opLt compareOp = "lt"
)

// condition is one comparison; a parsed filter is the conjunction of its conditions.
type condition struct {
	prop   string
	op     compareOp
	isDate bool
	when   time.Time
	text   string
	isNull bool
	fold   bool // text compares case-insensitively
}

// filterToken is a bare word, a quoted string or a parenthesis.
type filterToken struct {
	text   string
	quoted bool
	pos    int
}

// parseFilter compiles a $filter expression on security/incidents.
func parseFilter(src string) ([]condition, error) {
	return parseFilterWith(src, incidentSchema{})
}

// parseFilterWith compiles a $filter expression on the properties schema allows.
func parseFilterWith(src string, schema filterSchema) ([]condition, error) {
	if len(src) > maxFilterLen {
		return nil, fmt.Errorf("the $filter expression is longer than %d characters", maxFilterLen)
	}
	toks, err := tokenizeFilter(src)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("the $filter expression is empty")
	}
	p := &filterParser{toks: toks, schema: schema}
	conds, err := p.conjunction(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		return nil, fmt.Errorf("syntax error at position %d: unexpected %q", t.pos, t.text)
	}
	return conds, nil
}

func tokenizeFilter(src string) ([]filterToken, error) {
	var toks []filterToken
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(' || c == ')':
			toks = append(toks, filterToken{text: src[i : i+1], pos: i})
			i++
		case c == '\'':
			var b strings.Builder
			start := i
			i++
			for {
				if i >= len(src) {
					return nil, fmt.Errorf("unterminated string literal at position %d", start)
				}
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' { // '' escapes a quote
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			toks = append(toks, filterToken{text: b.String(), quoted: true, pos: start})
		default:
			start := i
			for i < len(src) && !strings.ContainsRune(" \t\r\n()'", rune(src[i])) {
				i++
			}
			toks = append(toks, filterToken{text: src[start:i], pos: start})
		}
	}
	return toks, nil
}

type filterParser struct {
	toks   []filterToken
	pos    int
	schema filterSchema
}

func (p *filterParser) next() (filterToken, bool) {
	if p.pos >= len(p.toks) {
		return filterToken{}, false
	}
	t := p.toks[p.pos]
	p.pos++
	return t, true
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && !p.toks[p.pos].quoted && p.toks[p.pos].text == w
}

func (p *filterParser) conjunction(depth int) ([]condition, error) {
	conds, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		more, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		conds = append(conds, more...)
	}
	if p.peekWord("or") {
		return nil, fmt.Errorf("the 'or' operator is not supported on this resource")
	}
	return conds, nil
}

func (p *filterParser) term(depth int) ([]condition, error) {
	if p.peekWord("(") {
		if depth >= maxFilterDepth {
			return nil, fmt.Errorf("the $filter expression is nested too deeply")
		}
		p.pos++
		conds, err := p.conjunction(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.peekWord(")") {
			return nil, fmt.Errorf("')' expected")
		}
		p.pos++
		return conds, nil
	}
	c, err := p.comparison()
	if err != nil {
		return nil, err
	}
	return []condition{c}, nil
}

func (p *filterParser) comparison() (condition, error) {
	prop, ok := p.next()
	if !ok {
		return condition{}, fmt.Errorf("a property name is expected at the end of the expression")
	}
	if prop.quoted || prop.text == ")" {
		return condition{}, fmt.Errorf("a property name is expected at position %d", prop.pos)
	}
	kind := p.schema.propKind(prop.text)
	if kind == kindNone {
		return condition{}, fmt.Errorf("filtering on %q is not supported", prop.text)
	}
	isDate := kind == kindDate
	opTok, ok := p.next()
	if !ok || opTok.quoted {
		return condition{}, fmt.Errorf("an operator is expected after %q", prop.text)
	}
	op := compareOp(opTok.text)
	switch op {
	case opEq, opGe, opGt, opLe, opLt:
	default:
		return condition{}, fmt.Errorf("operator %q is not supported", opTok.text)
	}
	lit, ok := p.next()
	if !ok {
		return condition{}, fmt.Errorf("a literal is expected after %q", opTok.text)
	}
	c := condition{prop: prop.text, op: op, isDate: isDate, fold: !isDate && p.schema.foldCase(prop.text)}
	if isDate {
		if lit.quoted {
			return c, fmt.Errorf("%s is an Edm.DateTimeOffset: the literal must not be quoted", prop.text)
		}
		t, err := time.Parse(time.RFC3339Nano, lit.text)
		if err != nil {
			return c, fmt.Errorf("%q is not a valid DateTimeOffset literal", lit.text)
		}
		c.when = t
		return c, nil
	}
	if op != opEq {
		return c, fmt.Errorf("operator %q is not supported on %s", op, prop.text)
	}
	switch {
	case !lit.quoted && lit.text == "null":
		c.isNull = true
	case !lit.quoted:
		return c, fmt.Errorf("%q is not a valid literal for %s", lit.text, prop.text)
	default:
		if err := p.schema.checkText(prop.text, lit.text); err != nil {
			return c, err
		}
		c.text = lit.text
	}
	return c, nil
}

// matches reports whether inc satisfies c.
func (c condition) matches(inc map[string]any) bool {
	v, present := inc[c.prop]
	if c.isDate {
		t, ok := parseStamp(v)
		if !ok {
			return false
		}
		switch c.op {
		case opEq:
			return t.Equal(c.when)
		case opGe:
			return !t.Before(c.when)
		case opGt:
			return t.After(c.when)
		case opLe:
			return !t.After(c.when)
		default:
			return t.Before(c.when)
		}
	}
	if c.isNull {
		return !present || v == nil
	}
	s, ok := v.(string)
	return ok && (s == c.text || c.fold && strings.EqualFold(s, c.text))
}

// matchAll reports whether inc satisfies every condition.
func matchAll(conds []condition, inc map[string]any) bool {
	for _, c := range conds {
		if !c.matches(inc) {
			return false
		}
	}
	return true
}
