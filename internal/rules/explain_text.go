package rules

import (
	"fmt"
	"io"
	"strings"
)

// WriteExplainText writes explanations for people, one rule a paragraph:
//
//	rule close-red-team-tests: no match
//	  true   incident.status == "active"
//	  false  all(devices(incident), {.deviceDnsName in lists.redteam_devices})
//	         1 of 3 devices not in lists.redteam_devices: ws-fin-014.contoso.com
//	rule old-rule: skipped: expired at 2026-01-01T00:00:00Z
//
// A term after the one that decided its chain is marked "(not reached)".
func WriteExplainText(w io.Writer, xs []Explanation) error {
	var b strings.Builder
	for _, x := range xs {
		switch {
		case x.Skipped != "":
			fmt.Fprintf(&b, "  rule %s: skipped: %s\n", x.Rule, x.Skipped)
			continue
		case x.Matched:
			fmt.Fprintf(&b, "  rule %s: match\n", x.Rule)
		case x.Error != "":
			fmt.Fprintf(&b, "  rule %s: error: %s\n", x.Rule, x.Error)
		default:
			fmt.Fprintf(&b, "  rule %s: no match\n", x.Rule)
		}
		for i, t := range x.Terms {
			value := "error"
			if t.Value != nil {
				value = fmt.Sprint(t.Value)
			}
			expr := t.Expr
			if i > 0 && x.Join != "" {
				expr = x.Join + " " + expr
			}
			if !t.Reached {
				expr += "  (not reached)"
			}
			fmt.Fprintf(&b, "    %-6s %s\n", value, expr)
			if t.Detail != "" {
				fmt.Fprintf(&b, "           %s\n", t.Detail)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
