package ui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// Styles are every style of the wizard, by meaning. They are rebuilt when
// the terminal reports its background, so no colour literal lives anywhere
// else.
type Styles struct {
	isDark bool

	Banner   lipgloss.Style
	Header   lipgloss.Style
	Title    lipgloss.Style
	Subtle   lipgloss.Style
	Accent   lipgloss.Style
	OK       lipgloss.Style
	Fail     lipgloss.Style
	Warn     lipgloss.Style
	Running  lipgloss.Style
	Pending  lipgloss.Style
	Key      lipgloss.Style
	Card     lipgloss.Style
	Label    lipgloss.Style
	Sidebar  lipgloss.Style
	Current  lipgloss.Style
	Selected lipgloss.Style
	Help     help.Styles
}

func newStyles(isDark bool) *Styles {
	ld := lipgloss.LightDark(isDark)
	c := func(light, dark string) color.Color { return ld(lipgloss.Color(light), lipgloss.Color(dark)) }
	accent := c("#5A4FCF", "#9F97FF")
	subtle := c("#6B6B6B", "#9A9A9A")
	green := c("#1F7A1F", "#5FD75F")
	red := c("#B00020", "#FF6B6B")
	yellow := c("#8A5A00", "#FFD75F")
	border := c("#BBBBBB", "#555555")

	s := &Styles{isDark: isDark}
	s.Banner = lipgloss.NewStyle().Bold(true).Foreground(c("#FFFFFF", "#1A1A1A")).Background(yellow).Padding(0, 1)
	s.Header = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Subtle = lipgloss.NewStyle().Foreground(subtle)
	s.Accent = lipgloss.NewStyle().Foreground(accent)
	s.OK = lipgloss.NewStyle().Foreground(green)
	s.Fail = lipgloss.NewStyle().Foreground(red).Bold(true)
	s.Warn = lipgloss.NewStyle().Foreground(yellow).Bold(true)
	s.Running = lipgloss.NewStyle().Foreground(accent)
	s.Pending = lipgloss.NewStyle().Foreground(subtle)
	s.Key = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Card = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(border).Padding(0, 1)
	s.Label = lipgloss.NewStyle().Foreground(subtle)
	s.Sidebar = lipgloss.NewStyle().Border(lipgloss.NormalBorder(), false, true, false, false).BorderForeground(border).PaddingRight(1)
	s.Current = lipgloss.NewStyle().Bold(true)
	s.Selected = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Help = help.DefaultStyles(isDark)
	return s
}

// status renders a step status as glyph and word, so it reads without
// colour too.
func (s *Styles) status(st Status) string {
	switch st {
	case StatusDone:
		return s.OK.Render("✓ done")
	case StatusRunning:
		return s.Running.Render("● running")
	case StatusFailed:
		return s.Fail.Render("✗ failed")
	case StatusSkipped:
		return s.Pending.Render("– skipped")
	}
	return s.Pending.Render("○ pending")
}

// verdict renders a check result as glyph and word.
func (s *Styles) verdict(ok bool) string {
	if ok {
		return s.OK.Render("✓ pass")
	}
	return s.Fail.Render("✗ FAIL")
}
