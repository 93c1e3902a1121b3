package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// uploadScreen shows the certificate for review, uploads it on
// confirmation and waits for Cloudflare to report it active. An upload cut
// off halfway may land without the rollout knowing its id, so Ctrl-C waits
// for the answer (stepScreen.Busy).
type uploadScreen struct{ stepScreen }

func newUpload(c *common) *uploadScreen { return &uploadScreen{newStepScreen(c, StepUpload)} }

func (s *uploadScreen) Status() string { return s.phase("review", "uploading", "uploaded") }

func (s *uploadScreen) Keys() []key.Binding {
	return s.phaseKeys([]key.Binding{withHelp(s.c.keys.Enter, "upload")}, []key.Binding{s.c.keys.Enter})
}

func (s *uploadScreen) Update(msg tea.Msg) (screen, tea.Cmd) { return s, s.confirmUpdate(msg) }

func (s *uploadScreen) View() string {
	st := s.c.st
	var b strings.Builder
	level := "zone"
	if s.c.sum.Inputs.Mode == ModeHostname {
		level = "per-hostname"
	}
	b.WriteString(st.Title.Render("Upload to Cloudflare") + "\n\n")
	switch {
	case s.run.running:
		b.WriteString(s.run.view("uploading, then waiting for Cloudflare to report it active"))
	case s.done:
		b.WriteString(st.OK.Render("✓ uploaded and active") + "\n\n")
		b.WriteString(certCard(st, s.c.sum.Cert, s.w))
	default:
		b.WriteString("This certificate becomes the " + level + " client certificate of " + s.c.sum.Inputs.Zone + ".\n")
		b.WriteString(st.Subtle.Render("Only the certificate and its key go to Cloudflare, never the CA key.") + "\n\n")
		b.WriteString(certCard(st, s.c.sum.Cert, s.w))
		b.WriteString("\nPress " + st.Key.Render("enter") + " to upload.\n")
	}
	return b.String()
}
