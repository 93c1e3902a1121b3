package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// enforceScreen warns what enforcing changes, asks for an explicit yes
// (enter alone does nothing), then shows the matrix again.
type enforceScreen struct {
	frame
	run     runner
	done    bool
	enforce bool
}

func newEnforce(c *common) *enforceScreen {
	return &enforceScreen{frame: frame{c: c}, run: newRunner(c, StepEnforce)}
}

func (s *enforceScreen) Init() tea.Cmd { return nil }
func (s *enforceScreen) Title() string { return "Enforce" }
func (s *enforceScreen) Step() string  { return StepEnforce }
func (s *enforceScreen) Typing() bool  { return false }

// Busy: enforcing rewrites the origin config and reloads it.
func (s *enforceScreen) Busy() (bool, bool) { return s.run.running, s.run.running }

func (s *enforceScreen) Status() string {
	switch {
	case s.run.running:
		return "enforcing " + s.run.elapsed().String()
	case s.done && s.enforce:
		return "enforced"
	case s.done:
		return "left in soft mode"
	}
	return "confirm"
}

func (s *enforceScreen) Keys() []key.Binding {
	k := s.c.keys
	switch {
	case s.run.running:
		return nil
	case s.done:
		return []key.Binding{k.Enter}
	}
	return []key.Binding{k.Yes, withHelp(k.Skip, "stay in soft mode")}
}

func (s *enforceScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
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
	case !s.done && (key.Matches(msg2, k.Yes) || key.Matches(msg2, k.Skip)):
		s.enforce = key.Matches(msg2, k.Yes)
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
			for _, l := range sum.Impact {
				b.WriteString("  • " + l + "\n")
			}
			b.WriteString("\n")
		}
		b.WriteString(st.Subtle.Render("aopwizard rollback undoes the rollout at any time.") + "\n\n")
		b.WriteString("Press " + st.Key.Render("y") + " to enforce, or " + st.Key.Render("s") + " to stay in soft mode.\n")
	}
	return b.String()
}
