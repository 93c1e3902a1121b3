package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// errorScreen says which step failed, why, and what to do; it retries the
// step, goes back to its screen to change the answers, or quits.
type errorScreen struct {
	frame
	step string
	err  error
	run  runner
}

func newErrorScreen(c *common, step string, err error) *errorScreen {
	return &errorScreen{frame: frame{c: c}, step: step, err: err, run: newRunner(c, step)}
}

func (s *errorScreen) Init() tea.Cmd { return nil }
func (s *errorScreen) Title() string { return stepTitle(s.step) + " failed" }
func (s *errorScreen) Step() string  { return s.step }
func (s *errorScreen) Typing() bool  { return false }
func (s *errorScreen) Busy() (bool, bool) {
	return s.run.running, s.run.running
}

func (s *errorScreen) Status() string {
	if s.run.running {
		return "retrying " + s.run.elapsed().String()
	}
	return s.c.st.Fail.Render("✗ failed")
}

func (s *errorScreen) Keys() []key.Binding {
	if s.run.running {
		return nil
	}
	k := s.c.keys
	return []key.Binding{k.Retry, withHelp(k.Back, "change answers"), k.QuitNow}
}

func (s *errorScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if done, cmd := s.run.update(msg); done || cmd != nil {
		if done {
			return s, next
		}
		return s, cmd
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok && !s.run.running {
		switch {
		case key.Matches(msg, s.c.keys.Retry):
			return s, s.run.start(nil, Secrets{})
		case key.Matches(msg, s.c.keys.QuitNow):
			return s, quit(s.err)
		}
	}
	return s, nil
}

func (s *errorScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(st.Fail.Render("✗ "+stepTitle(s.step)+" failed") + "\n\n")
	what := s.err.Error()
	if ss := s.c.sum.Step(s.step); ss != nil && ss.Error != "" {
		what = ss.Error
	}
	b.WriteString(st.Label.Render("What happened") + "\n" + what + "\n\n")
	if r := remedyOf(s.c.sum, s.step, s.err); r != "" {
		b.WriteString(st.Label.Render("What to do") + "\n" + r + "\n\n")
	}
	if (s.step == StepVerify || s.step == StepEnforce) && len(s.c.sum.Matrix) > 0 {
		b.WriteString(matrixView(st, s.c.sum.Matrix, s.w) + "\n")
	}
	if s.run.running {
		b.WriteString(s.run.view("retrying"))
	} else {
		b.WriteString(st.Subtle.Render("The rollout is saved: quitting now and running aopwizard again resumes here.") + "\n")
	}
	return b.String()
}
