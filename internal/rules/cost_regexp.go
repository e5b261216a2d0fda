package rules

import (
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of regexLive's search: past them it answers with the size of the
// program, which bounds the live threads too.
const (
	maxRegexInst    = 300
	maxRegexClasses = 256
	maxRegexSets    = 256
)

// regexLive bounds the work per byte of input of Go's regexp for a pattern:
// its matchers (the backtracker for short texts, the NFA for long ones) keep
// at most one thread per instruction of the program, and per byte visit the
// instructions reachable without reading, from those that read the byte and
// from the start (an unanchored search starts anew at every byte). The
// bound is the largest such set of instructions over every input, found by
// following the sets the program can be in, one character class at a time.
// A pattern that does not compile costs 1 (the load refuses it anyway).
func regexLive(pattern string) int {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 1
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 1
	}
	n := len(prog.Inst)
	classes := runeClasses(prog)
	if n > maxRegexInst || len(classes) > maxRegexClasses {
		return n
	}
	// An anchored pattern is not started anew at every byte.
	restart := []uint32{uint32(prog.Start)}
	if prog.StartCond()&syntax.EmptyBeginText != 0 {
		restart = nil
	}
	start := closure(prog, []uint32{uint32(prog.Start)})
	seen := map[string]bool{setKey(start): true}
	queue := [][]uint32{start}
	live := len(start)
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		for _, r := range classes {
			var next []uint32
			for _, pc := range set {
				in := &prog.Inst[pc]
				if reads(in.Op) && in.MatchRune(r) {
					next = append(next, in.Out)
				}
			}
			next = closure(prog, append(next, restart...))
			if k := setKey(next); !seen[k] {
				if len(seen) >= maxRegexSets {
					return n
				}
				seen[k] = true
				queue = append(queue, next)
				live = max(live, len(next))
			}
		}
	}
	return live
}

func reads(op syntax.InstOp) bool {
	switch op {
	case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		return true
	}
	return false
}

// closure is the sorted set of instructions reachable from pcs without
// reading (assertions are taken as true: more instructions, never fewer).
func closure(prog *syntax.Prog, pcs []uint32) []uint32 {
	seen := map[uint32]bool{}
	var walk func(pc uint32)
	walk = func(pc uint32) {
		if seen[pc] {
			return
		}
		seen[pc] = true
		in := &prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			walk(in.Out)
			walk(in.Arg)
		case syntax.InstCapture, syntax.InstEmptyWidth, syntax.InstNop:
			walk(in.Out)
		}
	}
	for _, pc := range pcs {
		walk(pc)
	}
	out := make([]uint32, 0, len(seen))
	for pc := range seen {
		out = append(out, pc)
	}
	slices.Sort(out)
	return out
}

func setKey(set []uint32) string {
	var b strings.Builder
	for _, pc := range set {
		b.WriteString(strconv.FormatUint(uint64(pc), 36))
		b.WriteByte(',')
	}
	return b.String()
}

// runeClasses returns one rune of each class of runes that every
// instruction of prog treats alike: the bounds of its ranges and their case
// foldings cut the runes into intervals.
func runeClasses(prog *syntax.Prog) []rune {
	cuts := map[rune]bool{0: true, '\n': true, '\n' + 1: true}
	add := func(lo, hi rune) {
		cuts[lo] = true
		if hi < utf8.MaxRune {
			cuts[hi+1] = true
		}
	}
	for _, in := range prog.Inst {
		if in.Op != syntax.InstRune && in.Op != syntax.InstRune1 {
			continue
		}
		if len(in.Rune) == 1 {
			r := in.Rune[0]
			add(r, r)
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				add(f, f)
			}
			continue
		}
		for i := 0; i+1 < len(in.Rune); i += 2 {
			add(in.Rune[i], in.Rune[i+1])
		}
		if len(cuts) > 2*maxRegexClasses {
			break
		}
	}
	out := make([]rune, 0, len(cuts))
	for r := range cuts {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}
