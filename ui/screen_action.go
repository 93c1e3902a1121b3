package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// actionScreen runs a step that asks nothing (alerts, or a step this build
// has no screen for) on enter.
type actionScreen struct {
	frame
	step string
	run  runner
	done bool
}

func newAction(c *common, step string) *actionScreen {
	return &actionScreen{frame: frame{c: c}, step: step, run: newRunner(c, step)}
}

func (s *actionScreen) Init() tea.Cmd { return nil }
func (s *actionScreen) Title() string { return stepTitle(s.step) }
func (s *actionScreen) Step() string  { return s.step }
func (s *actionScreen) Typing() bool  { return false }
func (s *actionScreen) Busy() (bool, bool) {
	return s.run.running, s.run.running
}

func (s *actionScreen) Status() string {
	switch {
	case s.run.running:
		return "running " + s.run.elapsed().String()
	case s.done:
		return "done"
	}
	return "confirm"
}

func (s *actionScreen) Keys() []key.Binding {
	if s.run.running {
		return nil
	}
	if s.done {
		return []key.Binding{s.c.keys.Enter}
	}
	return []key.Binding{withHelp(s.c.keys.Enter, "run")}
}

func (s *actionScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if done, cmd := s.run.update(msg); done || cmd != nil {
		s.done = s.done || done
		return s, cmd
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok && !s.run.running && key.Matches(msg, s.c.keys.Enter) {
		if s.done {
			return s, next
		}
		return s, s.run.start(nil, Secrets{})
	}
	return s, nil
}

func (s *actionScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(st.Title.Render(stepTitle(s.step)) + "\n\n")
	switch {
	case s.run.running:
		b.WriteString(s.run.view("running"))
	case s.done:
		b.WriteString(st.OK.Render("✓ done") + "\n")
		b.WriteString(s.run.view(""))
	case s.step == StepAlerts:
		b.WriteString("Create a notification policy that emails " + s.c.sum.Inputs.AlertsEmail + "\nbefore the client certificate expires.\n\n")
		b.WriteString("Press " + st.Key.Render("enter") + " to create it.\n")
	default:
		b.WriteString("Press " + st.Key.Render("enter") + " to run this step.\n")
	}
	return b.String()
}
