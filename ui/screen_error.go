package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// errorScreen says which step failed, why, and what to do; it retries the
// step, goes back to its screen to change the answers, or quits.
type errorScreen struct {
	stepScreen
	err error
}

func newErrorScreen(c *common, step string, err error) *errorScreen {
	return &errorScreen{stepScreen: newStepScreen(c, step), err: err}
}

func (s *errorScreen) Title() string { return stepTitle(s.step) + " failed" }

func (s *errorScreen) Status() string {
	return s.phase(s.c.st.Fail.Render("✗ failed"), "retrying", "")
}

func (s *errorScreen) Keys() []key.Binding {
	k := s.c.keys
	return s.phaseKeys([]key.Binding{k.Retry, withHelp(k.Back, "change answers"), k.QuitNow}, nil)
}

func (s *errorScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if cmd, handled := s.runnerMsg(msg); handled {
		if s.done {
			return s, next
		}
		return s, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, s.c.keys.Retry):
			return s, s.run.start(nil, Secrets{})
		case key.Matches(k, s.c.keys.QuitNow):
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
		b.WriteString(st.Subtle.Render(savedLine(s.c.opts.Demo)) + "\n")
	}
	return b.String()
}

// savedLine says what quitting now keeps: a demo's simulated Cloudflare
// ends with its process, so only a real rollout resumes.
func savedLine(demo bool) string {
	if demo {
		return "The demo's Cloudflare is simulated in this process: quitting ends the demo; aopwizard demo starts a new one."
	}
	return "The rollout is saved: quitting now and running aopwizard again resumes here."
}
