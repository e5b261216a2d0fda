package rules

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/graphsoar/graphsoar/internal/actions"
)

// WriteText writes the plan for people:
//
//	incident 4211 (tenant 3f2c…) event b6f7c0de-0001
//	  match close-red-team-tests
//	    classify      classification=informationalExpectedActivity determination=securityTesting
//	    set_status    status=resolved
//	  error bad-rule: when: ...
func (p *Plan) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "incident %s (tenant %s)", p.Incident, orDash(p.Tenant))
	if p.Event != "" {
		fmt.Fprintf(&b, " event %s", p.Event)
	}
	b.WriteString("\n")
	if len(p.Matches) == 0 && len(p.Errors) == 0 {
		b.WriteString("  no rule matched\n")
	}
	for _, m := range p.Matches {
		fmt.Fprintf(&b, "  match %s\n", m.Rule)
		for _, a := range m.Actions {
			held := ""
			if a.Approval {
				held = "  (held for approval)"
			}
			fmt.Fprintf(&b, "    %-16s %s%s\n", a.Type, FormatParams(a.Params), held)
		}
	}
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "  error %s: %s\n", e.Rule, e.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatParams writes parameters as `name=value` pairs in name order, quoting
// values with spaces and writing lists as [a, b].
func FormatParams(p actions.Params) string {
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		switch v := p[k].(type) {
		case []string:
			parts[i] = k + "=[" + strings.Join(v, ", ") + "]"
		case string:
			if v == "" || strings.ContainsAny(v, " \t\n\"") {
				v = fmt.Sprintf("%q", v)
			}
			parts[i] = k + "=" + v
		default:
			parts[i] = fmt.Sprintf("%s=%v", k, v)
		}
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
