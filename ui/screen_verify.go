package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// verifyScreen drives enable (turn AOP on at Cloudflare, on confirmation:
// one API call whose answer must be recorded, so Ctrl-C waits for it) and
// verify (runs at once, only probes: every origin x hostname x case), and
// shows the live matrix with the evidence.
type verifyScreen struct{ stepScreen }

func newVerify(c *common, step string) *verifyScreen { return &verifyScreen{newStepScreen(c, step)} }

func (s *verifyScreen) Init() tea.Cmd {
	if s.step == StepVerify {
		return s.run.start(nil, Secrets{})
	}
	return nil
}

func (s *verifyScreen) Busy() (bool, bool) {
	return s.run.running, s.run.running && s.step == StepEnable
}

func (s *verifyScreen) Status() string {
	done := "verified"
	if s.step == StepEnable {
		done = "enabled"
	}
	return s.phase("confirm", strings.ToLower(stepTitle(s.step)), done)
}

func (s *verifyScreen) Keys() []key.Binding {
	k := s.c.keys
	idle := []key.Binding{k.Retry}
	if s.step == StepEnable {
		idle = []key.Binding{withHelp(k.Enter, "enable")}
	}
	return s.phaseKeys(idle, []key.Binding{k.Enter, k.Retry})
}

func (s *verifyScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && !s.run.running && key.Matches(k, s.c.keys.Retry) && (s.done || s.step == StepVerify) {
		s.done = false
		return s, s.run.start(nil, Secrets{})
	}
	return s, s.confirmUpdate(msg)
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
			b.WriteString(hanging(st.Subtle.Render("·")+" ", "  ", e, s.w))
		}
		if s.step == StepVerify && len(sum.Impact) > 0 {
			b.WriteString("\nEnforcing next would mean:\n")
			b.WriteString(bulletList(st, sum.Impact, s.w))
		}
	}
	return b.String()
}
