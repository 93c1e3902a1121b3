package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/aopwizard/aopwizard/origin/sites"
)

// screen is one page of the wizard. Only the root returns a tea.View;
// screens render strings sized by SetSize.
type screen interface {
	Init() tea.Cmd
	Update(tea.Msg) (screen, tea.Cmd)
	View() string
	SetSize(w, h int)
	// Title names the screen in the header.
	Title() string
	// Status is a few words on what the screen waits for.
	Status() string
	// Keys are the screen's own bindings, for the footer.
	Keys() []key.Binding
	// Step is the rollout step the screen drives, "" for none.
	Step() string
	// Busy reports a step running, and whether stopping it halfway would
	// leave a change half-made (then Ctrl-C waits for it).
	Busy() (running, mutating bool)
	// Typing reports a focused text field, which gets every printable key.
	Typing() bool
}

// Model is the root model of the wizard.
type Model struct {
	c        *common
	screen   screen
	width    int
	height   int
	help     help.Model
	showHelp bool
	// quitting is set by Ctrl-C during a mutating step: the root quits
	// when the step ends.
	quitting bool
	cancel   context.CancelFunc
	// err is what Run returns: nil after done, ErrInterrupted, or the
	// failure the operator quit on; saveErr, the save on the way out
	// failing, is added to it.
	err     error
	saveErr error
	// scroll is the first line of the screen's body shown, when the body
	// is taller than the terminal (pgup/pgdn move it; a new screen starts
	// at the top).
	scroll int
}

// sidebarWidth is the progress sidebar's width including its border; the
// sidebar shows from wideWidth columns up.
const (
	sidebarWidth = 26
	wideWidth    = 100
)

// New returns the wizard's root model.
func New(ctx context.Context, flow Flow, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	st := newStyles(!opts.Light)
	c := &common{flow: flow, opts: opts, st: st, keys: DefaultKeyMap(), sum: &Summary{}, now: opts.Now, ctx: ctx, token: opts.Token}
	m := &Model{c: c, help: help.New(), cancel: cancel, width: 80, height: 24}
	m.help.Styles = st.Help
	m.screen = newStart(c)
	m.resize()
	return m
}

// Run runs the wizard on the terminal until done, a quit or Ctrl-C. It
// returns nil when the rollout is done, ErrInterrupted after Ctrl-C (the
// rollout saved), or the failure the operator quit on.
func Run(ctx context.Context, flow Flow, opts Options) error {
	popts := []tea.ProgramOption{tea.WithOutput(os.Stderr)}
	// colorprofile reads NO_COLOR with strconv.ParseBool, so NO_COLOR=yes
	// would keep colours; no-color.org says any non-empty value disables
	// them.
	if os.Getenv("NO_COLOR") != "" {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	return runProgram(ctx, New(ctx, flow, opts), popts...)
}

// runProgram runs m as a Bubble Tea program and maps how it ended to Run's
// errors.
func runProgram(ctx context.Context, m *Model, popts ...tea.ProgramOption) error {
	return runModel(tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)...), m)
}

// runModel runs p, the program of m, and maps how it ended to Run's errors.
func runModel(p *tea.Program, m *Model) error {
	_, err := p.Run()
	m.cancel()
	switch {
	case errors.Is(err, tea.ErrInterrupted):
		return errors.Join(ErrInterrupted, m.saveErr)
	case err != nil:
		return fmt.Errorf("the wizard stopped: %w", err)
	}
	return errors.Join(m.err, m.saveErr)
}

// Err is the outcome once the program has ended (see Run).
func (m *Model) Err() error { return errors.Join(m.err, m.saveErr) }

func (m *Model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.screen.Init())
}

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.BackgroundColorMsg:
		*m.c.st = *newStyles(msg.IsDark())
		m.help.Styles = m.c.st.Help
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tea.KeyPressMsg:
		if cmd, ok := m.globalKey(msg); ok {
			return m, cmd
		}
	case summaryMsg:
		if msg.err == nil {
			*m.c.sum = msg.sum
		}
	case stepDoneMsg:
		if msg.sum.ID != "" {
			*m.c.sum = msg.sum
		}
		if m.quitting {
			m.screen, _ = m.screen.Update(msg)
			return m, m.interrupt()
		}
		if msg.err != nil && !errors.Is(msg.err, context.Canceled) {
			return m, m.show(newErrorScreen(m.c, msg.step, msg.err))
		}
	case nextMsg:
		return m, m.show(m.screenFor(m.c.sum.Current()))
	case savedMsg:
		if msg.err != nil {
			m.saveErr = fmt.Errorf("could not save the rollout, so running aopwizard again may not resume here: %w", msg.err)
		}
		return m, nil
	case sitesMsg:
		if m.c.sites == nil {
			m.c.sites = map[string]*sites.Config{}
		}
		m.c.sites[msg.server] = msg.cfg
	case quitMsg:
		m.err = msg.err
		return m, tea.Sequence(saveCmd(m.c), tea.Quit)
	}
	var cmd tea.Cmd
	m.screen, cmd = m.screen.Update(msg)
	return m, cmd
}

// quitMsg ends the wizard normally: after done (err nil) or on a failure
// the operator chose to leave.
type quitMsg struct{ err error }

func quit(err error) tea.Cmd { return func() tea.Msg { return quitMsg{err: err} } }

func saveCmd(c *common) tea.Cmd {
	ctx := context.WithoutCancel(c.ctx)
	return func() tea.Msg { return savedMsg{err: c.flow.Save(ctx)} }
}

// globalKey handles the keys that mean the same on every screen.
func (m *Model) globalKey(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.c.keys
	running, mutating := m.screen.Busy()
	switch {
	case key.Matches(msg, k.Quit):
		if mutating {
			m.quitting = true
			return nil, true
		}
		return m.interrupt(), true
	case m.quitting:
		return nil, true
	case key.Matches(msg, k.Help) && !m.screen.Typing():
		m.showHelp = !m.showHelp
		m.resize()
		return nil, true
	case key.Matches(msg, k.Back) && !running:
		return m.back(), true
	case key.Matches(msg, k.Scroll):
		// Only a body taller than the terminal scrolls here; the screens
		// that fit (a form, the origin's own viewport) keep the keys.
		w, h, _ := m.layout()
		n := len(m.bodyLines(w))
		if n <= h {
			return nil, false
		}
		page := max(h-2, 1)
		if msg.String() == "pgup" {
			page = -page
		}
		m.scroll = min(max(m.scroll+page, 0), n-(h-1))
		return nil, true
	}
	return nil, false
}

// interrupt stops a running read-only step, saves and quits with exit 130.
func (m *Model) interrupt() tea.Cmd {
	m.cancel()
	return tea.Sequence(saveCmd(m.c), tea.Interrupt)
}

// show makes s the active screen.
func (m *Model) show(s screen) tea.Cmd {
	m.screen, m.scroll = s, 0
	m.resize()
	return s.Init()
}

// back shows the screen before the active one: the previous step's, or
// the start screen before the first step.
func (m *Model) back() tea.Cmd {
	step := m.screen.Step()
	if es, ok := m.screen.(*errorScreen); ok {
		return m.show(m.screenFor(es.step))
	}
	prev := ""
	for i, st := range m.c.sum.Steps {
		if st.Name == step && i > 0 {
			prev = m.c.sum.Steps[i-1].Name
		}
	}
	if step == "" {
		return nil
	}
	if prev == "" {
		return m.show(newStart(m.c))
	}
	return m.show(m.screenFor(prev))
}

// screenFor is the screen that drives step.
func (m *Model) screenFor(step string) screen {
	switch step {
	case StepConnect:
		return newConnect(m.c)
	case StepPlan:
		return newPlan(m.c)
	case StepCertificate:
		return newCertificate(m.c)
	case StepUpload:
		return newUpload(m.c)
	case StepOrigin:
		return newOrigin(m.c)
	case StepEnable, StepVerify:
		return newVerify(m.c, step)
	case StepEnforce:
		return newEnforce(m.c)
	case "", StepDone:
		return newDone(m.c)
	}
	return newAction(m.c, step)
}

// layout is the size of the content area and whether the sidebar shows.
func (m *Model) layout() (w, h int, sidebar bool) { return m.layoutFor(m.footer()) }

// layoutFor is layout under footer, for a frame that has drawn it already.
func (m *Model) layoutFor(footer string) (w, h int, sidebar bool) {
	h = m.height - 2 - lipgloss.Height(footer)
	if m.c.opts.Demo {
		h--
	}
	w = m.width
	sidebar = m.width >= wideWidth && len(m.c.sum.Steps) > 0
	if sidebar {
		w -= sidebarWidth + 1
	}
	return max(w, 10), max(h, 1), sidebar
}

func (m *Model) resize() {
	m.help.SetWidth(m.width)
	w, h, _ := m.layout()
	m.screen.SetSize(w, h)
}

func (m *Model) footer() string {
	m.help.ShowAll = m.showHelp
	k := m.c.keys
	own := m.screen.Keys()
	running, _ := m.screen.Busy()
	var global []key.Binding
	for _, g := range []key.Binding{k.Help, k.Back, k.Quit} {
		switch {
		case g.Help().Key == "?" && m.screen.Typing(), bound(own, g),
			g.Help().Key == "esc" && (running || m.screen.Step() == ""):
		default:
			global = append(global, g)
		}
	}
	return m.help.View(helpKeys{screen: own, global: global})
}

// bound reports whether a screen binding already says what g's keys do.
func bound(own []key.Binding, g key.Binding) bool {
	for _, b := range own {
		if b.Help().Key == g.Help().Key {
			return true
		}
	}
	return false
}

// View renders the banner, the header, the sidebar and screen, and the
// footer help.
func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "aopwizard · " + m.screen.Title()
	// The terminal's own progress indicator (tab, taskbar) shows a step
	// running, and how far the rollout is.
	if running, _ := m.screen.Busy(); running {
		v.ProgressBar = tea.NewProgressBar(tea.ProgressBarIndeterminate, 0)
	} else if n := len(m.c.sum.Steps); n > 0 {
		done := 0
		for _, st := range m.c.sum.Steps {
			if st.Status == StatusDone || st.Status == StatusSkipped {
				done++
			}
		}
		v.ProgressBar = tea.NewProgressBar(tea.ProgressBarDefault, 100*done/n)
	}
	return v
}

func (m *Model) render() string {
	st := m.c.st
	foot := m.footer()
	w, h, sidebar := m.layoutFor(foot)
	var parts []string
	if m.c.opts.Demo {
		text := "DEMO · the Cloudflare side is simulated; nothing leaves this machine"
		if m.width < 72 {
			text = "DEMO · Cloudflare is simulated"
		}
		parts = append(parts, st.Banner.Width(m.width).Render(fit(text, m.width-2)))
	}
	parts = append(parts, fit(m.header(sidebar), m.width), "")
	body := m.window(m.bodyLines(w), h)
	if sidebar {
		side := st.Sidebar.Width(sidebarWidth).Height(h).Render(m.sidebar())
		body = lipgloss.JoinHorizontal(lipgloss.Top, side, " ", body)
	} else {
		body = lipgloss.NewStyle().Height(h).Render(body)
	}
	// help.Model adds a key that does not fit when its ellipsis would not
	// fit either, so the footer is cut to the width here.
	footer := strings.Split(foot, "\n")
	for i, l := range footer {
		footer[i] = fit(l, m.width)
	}
	parts = append(parts, body, strings.Join(footer, "\n"))
	return strings.Join(parts, "\n")
}

// header is one line: the screen, the step count on narrow terminals, and
// the screen's status.
func (m *Model) header(sidebar bool) string {
	st := m.c.st
	left := st.Header.Render("aopwizard") + st.Subtle.Render(" › ") + st.Title.Render(m.screen.Title())
	if n, i := len(m.c.sum.Steps), m.stepIndex(); !sidebar && i >= 0 {
		left += st.Subtle.Render(fmt.Sprintf(" %d/%d", i+1, n))
	}
	if s := m.screen.Status(); s != "" {
		left += st.Subtle.Render(" · ") + s
	}
	return left
}

func (m *Model) stepIndex() int {
	for i, s := range m.c.sum.Steps {
		if s.Name == m.screen.Step() {
			return i
		}
	}
	return -1
}

// sidebar lists every step with its status as glyph and word.
func (m *Model) sidebar() string {
	st := m.c.st
	var b strings.Builder
	b.WriteString(st.Title.Render(m.c.sum.Inputs.Zone))
	b.WriteString("\n")
	if mode := m.c.sum.Inputs.Mode; mode != "" {
		b.WriteString(st.Subtle.Render(mode + " mode"))
	}
	b.WriteString("\n\n")
	cur := m.screen.Step()
	running, _ := m.screen.Busy()
	for _, s := range m.c.sum.Steps {
		marker, name, status := "  ", fmt.Sprintf("%-11s", stepTitle(s.Name)), s.Status
		if s.Name == cur {
			marker, name = st.Selected.Render("› "), st.Current.Render(name)
			// The summary changes when the step ends; the screen knows now.
			if running {
				status = StatusRunning
			}
		}
		fmt.Fprintf(&b, "%s%s %s\n", marker, name, st.status(status))
	}
	return strings.TrimRight(b.String(), "\n")
}

// stepTitle is a step's name for people.
func stepTitle(step string) string {
	switch step {
	case StepOrigin:
		return "Origin"
	case "":
		return "Start"
	}
	return strings.ToUpper(step[:1]) + step[1:]
}

// fit truncates one line to w cells.
func fit(s string, w int) string { return ansi.Truncate(s, max(w, 1), "…") }

// bodyLines are the active screen's lines wrapped at w cells (an error or
// remedy must be read whole, not cut).
func (m *Model) bodyLines(w int) []string {
	v := m.screen.View()
	if m.quitting {
		v = m.c.st.Warn.Render("Finishing "+stepTitle(m.screen.Step())+" first, then saving and quitting…") + "\n\n" + v
	}
	return wrapTo(strings.TrimRight(v, "\n"), w)
}

// wrapTo is s's lines, each wrapped at w cells as the terminal shows it.
func wrapTo(s string, w int) []string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		// A cell takes at least a byte, so a line no longer in bytes than
		// w fits without measuring (most of a frame: padding, ASCII).
		if len(l) > w && ansi.StringWidth(l) > w {
			l = ansi.Wrap(l, w, "")
		}
		lines = append(lines, strings.Split(l, "\n")...)
	}
	return lines
}

// window is the h lines of lines from the scroll position; a body taller
// than h gives its last line to where it stands and how to see the rest.
func (m *Model) window(lines []string, h int) string {
	if len(lines) <= h {
		return strings.Join(lines, "\n")
	}
	rows := max(h-1, 1)
	off := min(max(m.scroll, 0), len(lines)-rows)
	more := fmt.Sprintf("lines %d–%d of %d · pgup/pgdn scroll", off+1, off+rows, len(lines))
	return strings.Join(append(slices.Clone(lines[off:off+rows]), m.c.st.Subtle.Render(more)), "\n")
}
