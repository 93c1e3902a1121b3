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
	// Columns as wide as their longest cell; when that does not fit, two
	// lines a check.
	tw, cw, ew, ow := len("hostname @ origin"), len("case"), len("expected"), len("observed")
	for _, c := range checks {
		tw = max(tw, ansi.StringWidth(c.Hostname+" @ "+c.Origin))
		cw = max(cw, ansi.StringWidth(c.Case))
		ew = max(ew, ansi.StringWidth(c.Expected))
		ow = max(ow, ansi.StringWidth(c.Observed))
	}
	if 8+1+tw+1+cw+1+ew+1+ow <= w {
		row := func(v, t, c, e, o string) string {
			return pad(v, 8) + " " + pad(t, tw) + " " + pad(c, cw) + " " + pad(e, ew) + " " + o + "\n"
		}
		b.WriteString(st.Label.Render(strings.TrimRight(row("result", "hostname @ origin", "case", "expected", "observed"), "\n")) + "\n")
		for _, c := range checks {
			b.WriteString(row(st.verdict(c.OK), c.Hostname+" @ "+c.Origin, c.Case, c.Expected, c.Observed))
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
