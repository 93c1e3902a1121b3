package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// verifyScreen drives enable (turn AOP on at Cloudflare, on confirmation)
// and verify (runs at once: probes every origin x hostname x case) and
// shows the live matrix with the evidence.
type verifyScreen struct {
	frame
	step string
	run  runner
	done bool
}

func newVerify(c *common, step string) *verifyScreen {
	return &verifyScreen{frame: frame{c: c}, step: step, run: newRunner(c, step)}
}

func (s *verifyScreen) Init() tea.Cmd {
	if s.step == StepVerify {
		return s.run.start(nil, Secrets{})
	}
	return nil
}

func (s *verifyScreen) Title() string { return stepTitle(s.step) }
func (s *verifyScreen) Step() string  { return s.step }
func (s *verifyScreen) Typing() bool  { return false }

// Busy: enabling is one API call whose answer must be recorded; verifying
// only probes.
func (s *verifyScreen) Busy() (bool, bool) {
	return s.run.running, s.run.running && s.step == StepEnable
}

func (s *verifyScreen) Status() string {
	switch {
	case s.run.running:
		return strings.ToLower(stepTitle(s.step)) + " " + s.run.elapsed().String()
	case s.done:
		return "verified"
	}
	return "confirm"
}

func (s *verifyScreen) Keys() []key.Binding {
	k := s.c.keys
	switch {
	case s.run.running:
		return nil
	case s.done:
		return []key.Binding{k.Enter, k.Retry}
	case s.step == StepEnable:
		return []key.Binding{withHelp(k.Enter, "enable")}
	}
	return []key.Binding{k.Retry}
}

func (s *verifyScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if done, cmd := s.run.update(msg); done || cmd != nil {
		s.done = s.done || done
		return s, cmd
	}
	msg2, ok := msg.(tea.KeyPressMsg)
	if !ok || s.run.running {
		return s, nil
	}
	k := s.c.keys
	switch {
	case s.done && key.Matches(msg2, k.Enter):
		return s, next
	case key.Matches(msg2, k.Retry) && (s.done || s.step == StepVerify):
		s.done = false
		return s, s.run.start(nil, Secrets{})
	case !s.done && s.step == StepEnable && key.Matches(msg2, k.Enter):
		return s, s.run.start(nil, Secrets{})
	}
	return s, nil
}

func (s *verifyScreen) View() string {
	st := s.c.st
	sum := s.c.sum
	var b strings.Builder
	if s.step == StepEnable {
		b.WriteString(st.Title.Render("Enable Authenticated Origin Pulls") + "\n\n")
		if !s.done && !s.run.running {
			b.WriteString("Cloudflare starts presenting the client certificate to " + sum.Inputs.Zone + "'s origins.\n")
			b.WriteString(st.Subtle.Render("The origin is in soft mode, so nothing is refused yet.") + "\n\n")
			b.WriteString("Press " + st.Key.Render("enter") + " to enable.\n")
			return b.String()
		}
	} else {
		b.WriteString(st.Title.Render("Verify") + "\n")
		b.WriteString(st.Subtle.Render("Real TLS connections to each origin, with and without Cloudflare's certificate.") + "\n\n")
	}
	b.WriteString(s.run.view("checking"))
	checks := sum.Matrix
	if s.run.running {
		checks = s.run.checks
	}
	if s.step == StepVerify || len(checks) > 0 {
		b.WriteString(matrixView(st, checks, s.w))
	}
	if s.done {
		for _, e := range sum.Evidence {
			b.WriteString(st.Subtle.Render("· ") + e + "\n")
		}
		if s.step == StepVerify && len(sum.Impact) > 0 {
			b.WriteString("\nEnforcing next would mean:\n")
			for _, l := range sum.Impact {
				b.WriteString("  • " + l + "\n")
			}
		}
	}
	return b.String()
}
