package rules

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// compiled is the outcome of compiling one parsed rule.
type compiled struct {
	rule *Rule // nil when the rule has errors
	errs []Error
}

// compileAll compiles the parsed rules on up to GOMAXPROCS goroutines. Each
// goroutine has its own compiler and error list; what the compilers record
// (the properties read through previous, the lists read) is merged into c
// afterwards, and the outcomes come back in the order of raws, so that the
// errors and the rules are the same, in the same order, whatever the
// scheduling.
func (l *loader) compileAll(c *compiler, raws []*rawRule) []compiled {
	out := make([]compiled, len(raws))
	workers := max(min(runtime.GOMAXPROCS(0), len(raws)), 1)
	var next atomic.Int64
	comps := make([]*compiler, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wc := &compiler{lists: c.lists, fields: c.fields, cost: c.cost}
		comps[w] = wc
		wl := &loader{reg: l.reg}
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(raws) {
					return
				}
				wl.errs = nil
				wc.rule, wc.ruleCost = raws[i].id, ruleCost{}
				r := wl.compileRule(wc, raws[i])
				if wl.checkRuleCost(wc, raws[i]) {
					r = nil
				}
				out[i] = compiled{rule: r, errs: wl.errs}
			}
		})
	}
	wg.Wait()
	for _, wc := range comps {
		c.merge(wc)
	}
	return out
}

// merge adds what another compiler recorded to c.
func (c *compiler) merge(o *compiler) {
	for f := range o.prev.fields {
		if c.prev.fields == nil {
			c.prev.fields = map[string]bool{}
		}
		c.prev.fields[f] = true
	}
	c.prev.whole = c.prev.whole || o.prev.whole
	for n := range o.listsRead.names {
		if c.listsRead.names == nil {
			c.listsRead.names = map[string]bool{}
		}
		c.listsRead.names[n] = true
	}
	c.listsRead.all = c.listsRead.all || o.listsRead.all
}
