package rules

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/graphsoar/graphsoar/internal/incident"
)

// costShape is a pathological rule whose work grows with n, and the
// incident within the input bounds that makes it do the most work.
type costShape struct {
	name  string
	when  func(n int) string
	event func(tb testing.TB, b Bounds) []byte
}

// times makes a condition of a format with one %d.
func times(format string) func(int) string {
	return func(n int) string { return fmt.Sprintf(format, n) }
}

// costShapes are the rules of the cost benchmark: loops nested over the
// incident (typed items, items of type any, calls and method calls in the
// loop), a text searched again and again, a regular expression whose every
// instruction stays live, JSON.
func costShapes() []costShape {
	return []costShape{
		{"nested-loops", times(`all(incident.alerts, {none(take(devices(incident), %d), {.deviceDnsName == "x"})})`), devicesEvent},
		{"nested-typed", times(`all(1..%d, {none(devices(incident), {.deviceDnsName == "x"})})`), devicesEvent},
		{"nested-parts", times(`all(1..%d, {all(incident.alerts, {none(.evidence, {.deviceDnsName == "x"})})})`), devicesEvent},
		{"calls", times(`all(1..%d, {none(devices(incident), {lower(.deviceDnsName) == "x"})})`), devicesEvent},
		{"methods", times(`all(1..%d, {none(devices(incident), {.firstSeenDateTime.Year() == 2})})`), devicesEvent},
		{"text-search", times(`all(1..%d, {not (incident.description contains "` + strings.Repeat("a", 40) + `b")})`), textOf("a")},
		{"text-search-long", times(`all(1..%d, {not (incident.description contains "` + strings.Repeat("a", 500) + `b")})`), textOf("a")},
		{"regexp", func(n int) string {
			return `not (incident.description matches "(?i)` + strings.Repeat("[a-z]", n) + `[0-9]")`
		}, textOf("a")},
		{"regexp-typical", times(`all(1..%d, {not (incident.description matches "(?i)mimikatz|sekurlsa")})`), textOf("mi")},
		{"json", times(`all(1..%d, {len(toJSON(incident)) > 0})`), jsonEvent},
	}
}

// maxN returns the largest n for which shape's rule is within the budget.
func (s costShape) maxN(tb testing.TB, budget float64) (int, float64) {
	tb.Helper()
	steps := func(n int) float64 { return estimateWhen(tb, s.when(n)) }
	lo, hi := 1, 2
	for steps(hi) <= budget {
		lo, hi = hi, hi*2
		if hi > 1<<30 {
			tb.Fatalf("%s: the estimate does not grow with n", s.name)
		}
	}
	if steps(lo) > budget {
		tb.Fatalf("%s: over the budget even for n = 1", s.name)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if steps(mid) <= budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, steps(lo)
}

// estimateWhen estimates a condition with the default options.
func estimateWhen(tb testing.TB, src string) float64 {
	tb.Helper()
	o := loadOptions{bounds: DefaultBounds(), budget: DefaultCostBudget}
	c := &compiler{lists: Lists{}, fields: incidentFields(), cost: newCostModel(o, Lists{})}
	if _, errs := c.compile(src, true, nil); len(errs) > 0 && !strings.Contains(errs[0].msg, "may take up to") {
		tb.Fatalf("%s: %s", src, errs[0].msg)
	}
	return c.ruleCost.condition
}

// BenchmarkCostBound evaluates each pathological rule, just under the
// default budget, on the incident within the default bounds that makes it
// work the most. ns/step is what the budget's step costs at worst.
func BenchmarkCostBound(b *testing.B) {
	for _, s := range costShapes() {
		b.Run(s.name, func(b *testing.B) {
			n, steps := s.maxN(b, DefaultCostBudget)
			src := "rules:\n  - id: pathological\n    order: 1\n    when: '%s'\n    actions: [{tag: slow}]\n"
			rs, err := LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(fmt.Sprintf(src, s.when(n)))}}, ".", "rules", nil)
			if err != nil {
				b.Fatal(err)
			}
			data := s.event(b, DefaultBounds())
			ev, err := incident.Decode(data)
			if err != nil {
				b.Fatal(err)
			}
			in := Input{Event: ev, Now: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}
			if p := rs.Evaluate(in); len(p.Errors) > 0 || len(p.Matches) != 1 {
				b.Fatalf("the rule must run to the end and match: %+v", p)
			}
			b.ResetTimer()
			for b.Loop() {
				rs.Evaluate(in)
			}
			perEvent := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(n), "n")
			b.ReportMetric(steps, "steps")
			b.ReportMetric(perEvent/1e6, "ms/event")
			b.ReportMetric(perEvent/steps, "ns/step")
		})
	}
}

// checkBounds fails unless an event is within the worker's bounds.
func checkBounds(tb testing.TB, data []byte, bounds Bounds) []byte {
	tb.Helper()
	if len(data) > bounds.Bytes {
		tb.Fatalf("event of %d bytes, over %d", len(data), bounds.Bytes)
	}
	ev, err := incident.Decode(data)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, a := range ev.Incident.Alerts {
		n += len(a.Evidence)
	}
	if len(ev.Incident.Alerts) > bounds.Alerts || n > bounds.Evidence {
		tb.Fatalf("%d alerts and %d evidence items, over %d and %d", len(ev.Incident.Alerts), n, bounds.Alerts, bounds.Evidence)
	}
	return data
}

// envelope wraps incident properties (JSON, without braces) in an event.
func envelope(props string) []byte {
	return []byte(`{"specversion":"1.0","id":"e1","type":"com.microsoft.graph.security.incident.created","tenantid":"t",` +
		`"data":{"id":"1","status":"active","severity":"high","createdDateTime":"2026-11-20T10:00:00Z",` +
		`"lastUpdateDateTime":"2026-11-20T10:00:00Z"` + props + `}}`)
}

// devicesEvent is an incident with as many alerts as allowed, and as many
// distinct devices as evidence items allowed, spread over them.
func devicesEvent(tb testing.TB, b Bounds) []byte {
	var sb strings.Builder
	sb.WriteString(`,"alerts":[`)
	per := b.Evidence / b.Alerts
	for a := range b.Alerts {
		if a > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"%d","evidence":[`, a)
		for e := range per {
			if e > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"@odata.type":"#deviceEvidence","deviceDnsName":"d%d"}`, a*per+e)
		}
		sb.WriteString(`]}`)
	}
	sb.WriteString(`]`)
	return checkBounds(tb, envelope(sb.String()), b)
}

// textOf makes incidents whose description is as long as the bytes bound
// allows: fill over and over (the needle's prefix, never the needle).
func textOf(fill string) func(testing.TB, Bounds) []byte {
	return func(tb testing.TB, b Bounds) []byte {
		room := b.Bytes - len(envelope(`,"description":""`))
		text := strings.Repeat(fill, room/len(fill))
		return checkBounds(tb, envelope(`,"description":"`+text+`"`), b)
	}
}

// jsonEvent is an incident with as many evidence items as allowed, each as
// short in the event as it can be and as long as JSON can make it.
func jsonEvent(tb testing.TB, b Bounds) []byte {
	var sb strings.Builder
	sb.WriteString(`,"alerts":[`)
	per := b.Evidence / b.Alerts
	item := `{}`
	for a := range b.Alerts {
		if a > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"evidence":[`)
		sb.WriteString(strings.TrimSuffix(strings.Repeat(item+",", per), ","))
		sb.WriteString(`]}`)
	}
	sb.WriteString(`],"description":"`)
	room := b.Bytes - len(envelope(sb.String()+`"`))
	sb.WriteString(strings.Repeat("<", max(room, 0)))
	sb.WriteString(`"`)
	return checkBounds(tb, envelope(sb.String()), b)
}
