package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// enforceScreen warns what enforcing changes, asks for an explicit yes
// (enter alone does nothing), then shows the matrix again. Enforcing
// rewrites the origin config and reloads it, so Ctrl-C waits for it.
type enforceScreen struct {
	stepScreen
	enforce bool
}

func newEnforce(c *common) *enforceScreen {
	return &enforceScreen{stepScreen: newStepScreen(c, StepEnforce)}
}

func (s *enforceScreen) Status() string {
	done := "left in soft mode"
	if s.enforce {
		done = "enforced"
	}
	return s.phase("confirm", "enforcing", done)
}

func (s *enforceScreen) Keys() []key.Binding {
	k := s.c.keys
	return s.phaseKeys([]key.Binding{k.Yes, withHelp(k.Skip, "stay in soft mode")}, []key.Binding{k.Enter})
}

func (s *enforceScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if cmd, handled := s.runnerMsg(msg); handled {
		return s, cmd
	}
	k, ok := msg.(tea.KeyPressMsg)
	switch {
	case !ok:
	case s.done && key.Matches(k, s.c.keys.Enter):
		return s, next
	case !s.done && (key.Matches(k, s.c.keys.Yes) || key.Matches(k, s.c.keys.Skip)):
		s.enforce = key.Matches(k, s.c.keys.Yes)
		in := s.c.sum.Inputs
		in.Enforce = s.enforce
		return s, s.run.start(&in, Secrets{})
	}
	return s, nil
}

func (s *enforceScreen) View() string {
	st := s.c.st
	sum := s.c.sum
	var b strings.Builder
	b.WriteString(st.Title.Render("Enforce") + "\n\n")
	switch {
	case s.run.running:
		b.WriteString(s.run.view("enforcing, then verifying again"))
		b.WriteString(matrixView(st, s.run.checks, s.w))
	case s.done:
		if s.enforce {
			b.WriteString(st.OK.Render("✓ enforced: the origin refuses clients without Cloudflare's certificate") + "\n\n")
		} else {
			b.WriteString(st.Subtle.Render("– left in soft mode: the origin still serves clients without a certificate") + "\n\n")
		}
		b.WriteString(matrixView(st, sum.Matrix, s.w))
	default:
		b.WriteString(st.Warn.Render("! From now on the origin refuses every TLS client without Cloudflare's certificate.") + "\n\n")
		if len(sum.Impact) > 0 {
			b.WriteString("What changes:\n")
			b.WriteString(bulletList(st, sum.Impact, s.w))
			b.WriteString("\n")
		}
		b.WriteString(st.Subtle.Render("aopwizard rollback undoes the rollout at any time.") + "\n\n")
		b.WriteString("Press " + st.Key.Render("y") + " to enforce, or " + st.Key.Render("s") + " to stay in soft mode.\n")
	}
	return b.String()
}
