package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/aopwizard/aopwizard/steps"
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
	// certForm asks for the origin's own certificate when the mode chosen
	// needs one and none is known (manual mode on nginx, say); pending is
	// the answer recorded before the step runs, so the config shown while
	// waiting is the one with the certificate.
	certForm  *huh.Form
	certs     *serverCertFields
	cert, key string
	certIn    Inputs
	certQ     steps.ServerCertQuestion
	pending   *Inputs
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

// Init asks the flow for the change as the origin step will make it, and
// reads the server's sites, for the certificate of the site that serves
// the hostnames should the mode chosen need one: both read the server's
// config, so they run in commands.
func (s *originScreen) Init() tea.Cmd {
	sites := readSites(s.c, s.c.sum.Inputs)
	p, ok := s.c.flow.(OriginPreviewer)
	if !ok {
		return sites
	}
	ctx := s.c.ctx
	return tea.Batch(sites, func() tea.Msg {
		plan, err := p.PreviewOrigin(ctx)
		return originPreviewMsg{plan: plan, err: err}
	})
}

func (s *originScreen) Typing() bool { return s.certForm != nil }

func (s *originScreen) setPlan(p OriginPlan) {
	s.plan = p
	s.vp.SetContent(diffView(s.c.st, p))
}

// newFilesOnly reports whether diff only creates files: then the files
// read better as themselves than as lines of "+".
func newFilesOnly(diff string) bool {
	created := false
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, "--- ") {
			if l != "--- /dev/null" {
				return false
			}
			created = true
		}
	}
	return created
}

// diffView marks a diff's added and removed lines, in glyph and colour; a
// diff that only creates files shows them, each headed by its path.
func diffView(st *Styles, p OriginPlan) string {
	if !p.Diff {
		return p.Config
	}
	lines := strings.Split(p.Config, "\n")
	if newFilesOnly(p.Config) {
		var out []string
		for _, l := range lines {
			switch {
			case l == "--- /dev/null", strings.HasPrefix(l, "@@"):
			case strings.HasPrefix(l, "+++ "):
				out = append(out, st.Subtle.Render("# "+strings.TrimPrefix(l, "+++ ")))
			default:
				out = append(out, strings.TrimPrefix(l, "+"))
			}
		}
		return strings.Join(out, "\n")
	}
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
	if s.certForm != nil {
		s.certForm = sizeForm(s.certForm, nil, w, h-wrappedHeight(s.certHead(), w))
	}
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
	if s.certForm != nil {
		return formKeys(k)
	}
	if s.waiting() {
		return []key.Binding{k.Scroll}
	}
	return s.phaseKeys([]key.Binding{k.Apply, k.Manual, k.Scroll}, []key.Binding{k.Enter})
}

func (s *originScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	// A message may change the lines around the config (a new phase, the
	// last check): the viewport then takes what they leave.
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
	if sm, ok := msg.(summaryMsg); ok && s.pending != nil {
		return s, s.startPending(sm)
	}
	if s.certForm != nil {
		return s, s.fillCert(msg)
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
		if q := serverCertQuestion(s.c.sites[in.Server], in); needsCertAnswer(q, in) {
			return s, s.askCert(in, q)
		}
		return s, s.run.start(&in, Secrets{})
	default:
		var cmd tea.Cmd
		s.vp, cmd = s.vp.Update(msg)
		return s, cmd
	}
	return s, nil
}

// askCert asks for the origin's own certificate and key before the step
// runs in.
func (s *originScreen) askCert(in Inputs, q steps.ServerCertQuestion) tea.Cmd {
	s.certIn, s.certQ = in, q
	s.cert, s.key = in.ServerCert, in.ServerKey
	s.certs = newServerCertFields(s.c.st, func() Inputs { return s.certIn }, func() steps.ServerCertQuestion { return s.certQ }, &s.cert, &s.key)
	s.certForm = sizeForm(newForm(huh.NewGroup(s.certs.cert, s.certs.key)), nil, s.w, s.h-wrappedHeight(s.certHead(), s.w))
	cmd := s.certForm.Init()
	s.certs.suggest(in, q)
	return cmd
}

// certHead is what the screen shows over the certificate's form.
func (s *originScreen) certHead() string {
	return s.c.st.Title.Render("The origin's own certificate") + "\n" +
		s.c.st.Subtle.Render(fmt.Sprintf("The %s config is aopwizard's own server block.", orDash(s.c.sum.Origin.Server))) + "\n"
}

// fillCert passes msg to the certificate's form; once it is complete the
// answer is recorded, and the step runs when the flow has it.
func (s *originScreen) fillCert(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	s.certForm, cmd = updateForm(s.certForm, msg)
	if s.certForm.State != huh.StateCompleted {
		return cmd
	}
	s.certForm = nil
	in := s.certIn
	serverCertAnswer(&in, s.certQ, s.cert, s.key)
	s.pending = &in
	f, ctx := s.c.flow, s.c.ctx
	return tea.Batch(cmd, summaryCmd(func() (Summary, error) { return f.SetInputs(ctx, in, Secrets{}) }))
}

// startPending runs the step once its inputs are recorded (the root has
// put the summary in place), showing the config rendered with them.
func (s *originScreen) startPending(sm summaryMsg) tea.Cmd {
	in := *s.pending
	s.pending = nil
	if sm.err != nil {
		// Built now: the command runs off the UI goroutine, where the
		// summary may be changing.
		done := stepDoneMsg{seq: s.run.seq, step: s.step, sum: *s.c.sum, err: sm.err}
		return func() tea.Msg { return done }
	}
	s.setPlan(s.c.sum.Origin)
	return s.run.start(&in, Secrets{})
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
		what := "%s: changes %s\n"
		if newFilesOnly(o.Config) {
			what = "%s config for %s (new)\n"
		}
		fmt.Fprintf(&a, what, orDash(o.Server), st.Accent.Render(orDash(o.Path)))
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
	if s.certForm != nil {
		return s.certHead() + s.certForm.View()
	}
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
