package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// doneScreen finishes the rollout (the done step writes the report) and
// shows the outcome, the report and what to run next.
type doneScreen struct{ stepScreen }

func newDone(c *common) *doneScreen { return &doneScreen{newStepScreen(c, StepDone)} }

func (s *doneScreen) Init() tea.Cmd {
	if st := s.c.sum.Step(StepDone); st != nil && st.Status != StatusDone {
		return s.run.start(nil, Secrets{})
	}
	return nil
}

// Busy: the report is written atomically; stopping loses nothing.
func (s *doneScreen) Busy() (bool, bool) { return s.run.running, false }

func (s *doneScreen) Status() string { return s.phase("finished", "writing the report", "finished") }

func (s *doneScreen) Keys() []key.Binding {
	quit := []key.Binding{withHelp(s.c.keys.Enter, "quit")}
	return s.phaseKeys(quit, quit)
}

func (s *doneScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if cmd, handled := s.runnerMsg(msg); handled {
		return s, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && (key.Matches(k, s.c.keys.Enter) || key.Matches(k, s.c.keys.QuitNow)) {
		return s, quit(nil)
	}
	return s, nil
}

func (s *doneScreen) View() string {
	st := s.c.st
	sum := s.c.sum
	var b strings.Builder
	if s.run.running {
		b.WriteString(st.Title.Render("Finishing") + "\n\n" + s.run.view("writing the report"))
		return b.String()
	}
	b.WriteString(st.OK.Render("✓ Authenticated Origin Pulls is set up for "+sum.Inputs.Zone) + "\n\n")
	if sum.Outcome != "" {
		b.WriteString(sum.Outcome + "\n\n")
	}
	if sum.Report != "" {
		b.WriteString(st.Label.Render("Report  ") + sum.Report + "\n\n")
	}
	b.WriteString("Next:\n")
	for _, l := range nextCommands(s.c.opts.Demo) {
		// Side by side where both fit, else the words under the command.
		if s.w >= 60 {
			b.WriteString(hanging("  "+st.Accent.Render(fmt.Sprintf("%-*s", 22, l[0]))+" ", strings.Repeat(" ", 25), st.Subtle.Render(l[1]), s.w))
		} else {
			b.WriteString("  " + st.Accent.Render(l[0]) + "\n" + hanging("    ", "    ", st.Subtle.Render(l[1]), s.w))
		}
	}
	return b.String()
}

// nextCommands are what to run after a rollout; after a demo, whose
// rollout ends with its process, how to do it for real.
func nextCommands(demo bool) [][2]string {
	if demo {
		return [][2]string{
			{"aopwizard", "the same wizard against your zone (CLOUDFLARE_API_TOKEN)"},
			{"aopwizard doctor ZONE", "check a real zone first, changing nothing"},
			{"aopwizard demo --keep", "keep the demo's files (certificates, configs, report)"},
		}
	}
	return [][2]string{
		{"aopwizard status", "what is set up, and when the certificate expires"},
		{"aopwizard rotate", "a new certificate before this one expires"},
		{"aopwizard rollback", "undo everything this rollout changed"},
	}
}
