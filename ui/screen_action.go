package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// actionScreen runs a step that asks nothing (alerts, or a step this build
// has no screen for) on enter.
type actionScreen struct{ stepScreen }

func newAction(c *common, step string) *actionScreen { return &actionScreen{newStepScreen(c, step)} }

func (s *actionScreen) Status() string { return s.phase("confirm", "running", "done") }

func (s *actionScreen) Keys() []key.Binding {
	return s.phaseKeys([]key.Binding{withHelp(s.c.keys.Enter, "run")}, []key.Binding{s.c.keys.Enter})
}

func (s *actionScreen) Update(msg tea.Msg) (screen, tea.Cmd) { return s, s.confirmUpdate(msg) }

func (s *actionScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(st.Title.Render(stepTitle(s.step)) + "\n\n")
	switch {
	case s.run.running:
		b.WriteString(s.run.view("running"))
	case s.done:
		b.WriteString(st.OK.Render("✓ done") + "\n")
		for _, l := range s.run.said() {
			b.WriteString(hanging(st.Subtle.Render("·")+" ", "  ", l, s.w))
		}
	case s.step == StepAlerts:
		b.WriteString("Create a notification policy that emails " + s.c.sum.Inputs.AlertsEmail + "\nbefore the client certificate expires.\n\n")
		b.WriteString("Press " + st.Key.Render("enter") + " to create it.\n")
	default:
		b.WriteString("Press " + st.Key.Render("enter") + " to run this step.\n")
	}
	return b.String()
}
