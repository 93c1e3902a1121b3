package ui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/aopwizard/aopwizard/steps"
)

// originScreen shows the rendered origin configuration (soft phase: the
// origin asks for Cloudflare's certificate but still serves without it),
// then either applies it or waits while the operator applies it.
type originScreen struct {
	stepScreen
	vp   viewport.Model
	mode string
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

func newOrigin(c *common) *originScreen {
	s := &originScreen{stepScreen: newStepScreen(c, StepOrigin), vp: viewport.New()}
	s.vp.SetContent(c.sum.Origin.Config)
	return s
}

// Init reads the server's sites, for the certificate of the site that
// serves the hostnames should the mode chosen need one.
func (s *originScreen) Init() tea.Cmd { return readSites(s.c, s.c.sum.Inputs) }

func (s *originScreen) Typing() bool { return s.certForm != nil }

// Busy: applying edits the server's files and reloads it, which must not
// stop halfway; waiting for a manual change is only probing.
func (s *originScreen) Busy() (bool, bool) {
	return s.run.running, s.run.running && s.mode == OriginApply
}

// originChrome is how many lines the screen shows around the viewport.
const originChrome = 6

func (s *originScreen) SetSize(w, h int) {
	s.frame.SetSize(w, h)
	if s.certForm != nil {
		s.certForm = sizeForm(s.certForm, nil, w, h-s.certChrome())
	}
	s.vp.SetWidth(w)
	s.vp.SetHeight(max(h-originChrome, 3))
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
	s.certForm = sizeForm(newForm(huh.NewGroup(s.certs.cert, s.certs.key)), nil, s.w, s.h-s.certChrome())
	cmd := s.certForm.Init()
	s.certs.suggest(in, q)
	return cmd
}

// certHead is what the screen shows over the certificate's form.
func (s *originScreen) certHead() string {
	return s.c.st.Title.Render("The origin's own certificate") + "\n" +
		s.c.st.Subtle.Render(fmt.Sprintf("The %s config is aopwizard's own server block.", orDash(s.c.sum.Origin.Server))) + "\n"
}

// certChrome is how many lines certHead takes at the screen's width.
func (s *originScreen) certChrome() int {
	return len(wrapLines(ansi.Strip(s.certHead()), max(s.w, 1)))
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
		return func() tea.Msg { return stepDoneMsg{seq: s.run.seq, step: s.step, sum: *s.c.sum, err: sm.err} }
	}
	s.vp.SetContent(s.c.sum.Origin.Config)
	return s.run.start(&in, Secrets{})
}

func (s *originScreen) View() string {
	st := s.c.st
	o := s.c.sum.Origin
	var b strings.Builder
	if s.certForm != nil {
		return s.certHead() + s.certForm.View()
	}
	b.WriteString(st.Title.Render("Configure the origin (soft phase)") + "\n")
	fmt.Fprintf(&b, "%s config for %s\n", orDash(o.Server), st.Accent.Render(orDash(o.Path)))
	b.WriteString(st.Subtle.Render("Asks for Cloudflare's certificate, still serves clients without one.") + "\n\n")
	switch {
	case s.waiting():
		// Above the config, so a short terminal cuts the config, not this.
		fmt.Fprintf(&b, "%s waiting for the origin %s\n", s.run.spin.View(), st.Subtle.Render(s.run.elapsed().String()))
		b.WriteString("Write this config, test it and reload the server.\n")
		if m := s.run.lastMessage(); m != "" {
			b.WriteString(st.Subtle.Render("last check: "+m) + "\n")
		}
		b.WriteString(s.vp.View() + "\n")
	case s.run.running || s.done:
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
	default:
		b.WriteString(s.vp.View() + "\n")
		if len(o.Commands) > 0 {
			b.WriteString(st.Subtle.Render("then runs: ") + strings.Join(o.Commands, " · ") + "\n")
		}
		b.WriteString(st.Subtle.Render(fmt.Sprintf("%d%% · ", int(s.vp.ScrollPercent()*100))))
		b.WriteString(st.Key.Render("a") + " apply (test, write, reload; rolled back on failure) · " + st.Key.Render("m") + " I'll do it\n")
	}
	return b.String()
}
