package ui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// uploadScreen shows the certificate for review, uploads it on
// confirmation and waits for Cloudflare to report it active.
type uploadScreen struct {
	frame
	run  runner
	done bool
}

func newUpload(c *common) *uploadScreen {
	return &uploadScreen{frame: frame{c: c}, run: newRunner(c, StepUpload)}
}

func (s *uploadScreen) Init() tea.Cmd { return nil }
func (s *uploadScreen) Title() string { return "Upload" }
func (s *uploadScreen) Step() string  { return StepUpload }
func (s *uploadScreen) Typing() bool  { return false }

// Busy: an upload cut off halfway may land without the rollout knowing
// its id, so Ctrl-C waits for the answer.
func (s *uploadScreen) Busy() (bool, bool) { return s.run.running, s.run.running }

func (s *uploadScreen) Status() string {
	switch {
	case s.run.running:
		return "uploading " + s.run.elapsed().String()
	case s.done:
		return "uploaded"
	}
	return "review"
}

func (s *uploadScreen) Keys() []key.Binding {
	switch {
	case s.done:
		return []key.Binding{s.c.keys.Enter}
	case s.run.running:
		return nil
	}
	return []key.Binding{withHelp(s.c.keys.Enter, "upload")}
}

func (s *uploadScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
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
