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
	// plan is what the screen shows: the summary's rendered files, until
	// the flow's preview of the change on the server arrives (previewing).
	plan       OriginPlan
	previewing bool
	previewErr error
}

// originPreviewMsg is the flow's preview of the origin change.
type originPreviewMsg struct {
	plan *OriginPlan
	err  error
}

func newOrigin(c *common) *originScreen {
	s := &originScreen{stepScreen: newStepScreen(c, StepOrigin), vp: viewport.New(), plan: c.sum.Origin}
	// While the preview is on its way the rendered files may not be what
	// happens (an existing site is edited in place): nothing is shown yet.
	if _, s.previewing = c.flow.(OriginPreviewer); !s.previewing {
		s.setPlan(s.plan)
	}
	return s
}

// Init asks the flow for the change as the origin step will make it: it
// reads the server's config, so it runs in a command.
func (s *originScreen) Init() tea.Cmd {
	p, ok := s.c.flow.(OriginPreviewer)
	if !ok {
		return nil
	}
	ctx := s.c.ctx
	return func() tea.Msg {
		plan, err := p.PreviewOrigin(ctx)
		return originPreviewMsg{plan: plan, err: err}
	}
}

func (s *originScreen) setPlan(p OriginPlan) {
	s.plan = p
	s.vp.SetContent(diffView(s.c.st, p))
}

// diffView marks a diff's added and removed lines, in glyph and colour.
func diffView(st *Styles, p OriginPlan) string {
	if !p.Diff {
		return p.Config
	}
	lines := strings.Split(p.Config, "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			lines[i] = st.Subtle.Render(l)
		case strings.HasPrefix(l, "+"):
			lines[i] = st.OK.Render(l)
		case strings.HasPrefix(l, "-"):
			lines[i] = st.Fail.Render(l)
		}
	}
	return strings.Join(lines, "\n")
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
	if p, ok := msg.(originPreviewMsg); ok {
		s.previewing = false
		switch {
		case p.err != nil:
			s.previewErr = p.err
			s.setPlan(s.c.sum.Origin)
		case p.plan != nil:
			s.setPlan(*p.plan)
		default:
			s.setPlan(s.c.sum.Origin)
		}
		return s, nil
	}
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
	o := s.plan
	var a, b strings.Builder
	a.WriteString(st.Title.Render("Configure the origin (soft phase)") + "\n")
	switch {
	case s.previewing:
		fmt.Fprintf(&a, "%s: %s\n", orDash(o.Server), st.Subtle.Render("reading the server's configuration…"))
	case o.Diff:
		fmt.Fprintf(&a, "%s: changes %s\n", orDash(o.Server), st.Accent.Render(orDash(o.Path)))
		if o.Where != "" {
			a.WriteString(st.Subtle.Render(o.Where) + "\n")
		}
	default:
		fmt.Fprintf(&a, "%s config for %s\n", orDash(o.Server), st.Accent.Render(orDash(o.Path)))
	}
	if s.previewErr != nil {
		a.WriteString(st.Warn.Render("! ") + "could not work out the change on this server: " + s.previewErr.Error() + "\n")
	}
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
	o := s.plan
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
