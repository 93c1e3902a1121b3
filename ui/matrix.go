package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// matrixView renders origin x hostname x case: verdict (glyph and word),
// expected and observed. Wide terminals get columns, narrow ones two lines
// a check.
func matrixView(st *Styles, checks []Check, w int) string {
	if len(checks) == 0 {
		return st.Subtle.Render("(no checks yet)") + "\n"
	}
	var b strings.Builder
	pass := 0
	for _, c := range checks {
		if c.OK {
			pass++
		}
	}
	summary := fmt.Sprintf("%d of %d checks pass", pass, len(checks))
	if pass == len(checks) {
		b.WriteString(st.OK.Render("✓ "+summary) + "\n")
	} else {
		b.WriteString(st.Fail.Render("✗ "+summary) + "\n")
	}
	if w >= 70 {
		fmt.Fprintf(&b, "%s\n", st.Label.Render(fmt.Sprintf("%-8s %-22s %-18s %-14s %s", "result", "hostname @ origin", "case", "expected", "observed")))
		for _, c := range checks {
			target := c.Hostname + " @ " + c.Origin
			fmt.Fprintf(&b, "%s %s %s %s %s\n", pad(st.verdict(c.OK), 8), pad(fit(target, 22), 22), pad(fit(c.Case, 18), 18), pad(fit(c.Expected, 14), 14), c.Observed)
		}
		return b.String()
	}
	for _, c := range checks {
		fmt.Fprintf(&b, "%s %s @ %s\n", st.verdict(c.OK), c.Hostname, c.Origin)
		fmt.Fprintf(&b, "  %s: %s %s\n", c.Case, c.Observed, st.Subtle.Render("(want "+c.Expected+")"))
	}
	return b.String()
}

// pad pads a styled string to n cells.
func pad(s string, n int) string {
	return s + strings.Repeat(" ", max(n-ansi.StringWidth(s), 0))
}
