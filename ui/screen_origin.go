package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
)

// originScreen shows the rendered origin configuration (soft phase: the
// origin asks for Cloudflare's certificate but still serves without it),
// then either applies it or waits while the operator applies it.
type originScreen struct {
	stepScreen
	vp   viewport.Model
	mode string
}

func newOrigin(c *common) *originScreen {
	s := &originScreen{stepScreen: newStepScreen(c, StepOrigin), vp: viewport.New()}
	s.vp.SetContent(c.sum.Origin.Config)
	return s
}

// Busy: applying edits the server's files and reloads it, which must not
// stop halfway; waiting for a manual change is only probing.
func (s *originScreen) Busy() (bool, bool) {
	return s.run.running, s.run.running && s.mode == OriginApply
}

func (s *originScreen) SetSize(w, h int) {
	s.frame.SetSize(w, h)
	s.vp.SetWidth(w)
	s.fitViewport()
}

// fitViewport gives the config the lines the rest of the screen leaves,
// as wrapped at the screen's width in the current phase.
func (s *originScreen) fitViewport() {
	above, below := s.chrome()
	s.vp.SetHeight(max(s.h-wrappedHeight(above, s.w)-wrappedHeight(below, s.w), 3))
}

// wrappedHeight is how many lines s takes at w cells.
func wrappedHeight(s string, w int) int {
	if s == "" {
		return 0
	}
	return len(wrapTo(strings.TrimSuffix(s, "\n"), w))
}

// waiting reports the manual mode's wait, during which the config stays
// on screen to copy from.
func (s *originScreen) waiting() bool { return s.run.running && s.mode == OriginManual }

func (s *originScreen) Status() string {
	running := "applying"
	if s.mode == OriginManual {
		running = "waiting for the origin"
	}
	return s.phase("apply or do it yourself", running, "origin ready (soft)")
}

func (s *originScreen) Keys() []key.Binding {
	k := s.c.keys
	if s.waiting() {
		return []key.Binding{k.Scroll}
	}
	return s.phaseKeys([]key.Binding{k.Apply, k.Manual, k.Scroll}, []key.Binding{k.Enter})
}

func (s *originScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	// A message may change the lines around the config (a new phase, the
	// last check): the viewport takes what they leave, before and after.
	s.fitViewport()
	defer s.fitViewport()
	if _, ok := msg.(tea.KeyPressMsg); ok && s.waiting() {
		var cmd tea.Cmd
		s.vp, cmd = s.vp.Update(msg)
		return s, cmd
	}
	if cmd, handled := s.runnerMsg(msg); handled {
		return s, cmd
	}
	k, ok := msg.(tea.KeyPressMsg)
	keys := s.c.keys
	switch {
	case !ok:
	case s.done && key.Matches(k, keys.Enter):
		return s, next
	case s.done:
	case key.Matches(k, keys.Apply), key.Matches(k, keys.Manual):
		s.mode = OriginApply
		if key.Matches(k, keys.Manual) {
			s.mode = OriginManual
		}
		in := s.c.sum.Inputs
		in.OriginConfig = s.mode
		return s, s.run.start(&in, Secrets{})
	default:
		var cmd tea.Cmd
		s.vp, cmd = s.vp.Update(msg)
		return s, cmd
	}
	return s, nil
}

// chrome is what the screen shows above and below the config's viewport
// in the current phase.
func (s *originScreen) chrome() (above, below string) {
	st := s.c.st
	o := s.c.sum.Origin
	var a, b strings.Builder
	a.WriteString(st.Title.Render("Configure the origin (soft phase)") + "\n")
	fmt.Fprintf(&a, "%s config for %s\n", orDash(o.Server), st.Accent.Render(orDash(o.Path)))
	a.WriteString(st.Subtle.Render("Asks for Cloudflare's certificate, still serves clients without one.") + "\n\n")
	switch {
	case s.waiting():
		// Above the config, so a short terminal cuts the config, not this.
		fmt.Fprintf(&a, "%s waiting for the origin %s\n", s.run.spin.View(), st.Subtle.Render(s.run.elapsed().String()))
		a.WriteString("Write this config, test it and reload the server.\n")
		if m := s.run.lastMessage(); m != "" {
			a.WriteString(st.Subtle.Render("last check: "+m) + "\n")
		}
	case s.run.running || s.done:
	default:
		if len(o.Commands) > 0 {
			b.WriteString(st.Subtle.Render("then runs: ") + strings.Join(o.Commands, " · ") + "\n")
		}
		b.WriteString(st.Subtle.Render(fmt.Sprintf("%d%% · ", int(s.vp.ScrollPercent()*100))))
		b.WriteString(st.Key.Render("a") + " apply (test, write, reload; rolled back on failure) · " + st.Key.Render("m") + " I'll do it\n")
	}
	return a.String(), b.String()
}

func (s *originScreen) View() string {
	st := s.c.st
	o := s.c.sum.Origin
	above, below := s.chrome()
	if !s.waiting() && (s.run.running || s.done) {
		var b strings.Builder
		b.WriteString(above)
		if s.done {
			b.WriteString(st.OK.Render("✓ the origin asks for Cloudflare's certificate") + "\n")
		}
		b.WriteString(s.run.view("applying"))
		for _, c := range o.Commands {
			b.WriteString(st.Accent.Render("$ ") + c + "\n")
		}
		for _, l := range s.run.output {
			b.WriteString(st.Subtle.Render("  "+l) + "\n")
		}
		return b.String()
	}
	return above + s.vp.View() + "\n" + below
}
