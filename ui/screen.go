package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

// frame is the part every screen shares: the common state and its size.
type frame struct {
	c    *common
	w, h int
}

func (f *frame) SetSize(w, h int) { f.w, f.h = w, h }

// stepScreen is what the screens that run a step share: the runner, and
// three phases (before the run, while it runs, once it is done).
type stepScreen struct {
	frame
	step string
	run  runner
	done bool
}

func newStepScreen(c *common, step string) stepScreen {
	return stepScreen{frame: frame{c: c}, step: step, run: newRunner(c, step)}
}

func (s *stepScreen) Init() tea.Cmd { return nil }
func (s *stepScreen) Title() string { return stepTitle(s.step) }
func (s *stepScreen) Step() string  { return s.step }
func (s *stepScreen) Typing() bool  { return false }

// Busy: unless a screen says otherwise, its step changes something that
// must not stop halfway, so Ctrl-C waits for it.
func (s *stepScreen) Busy() (bool, bool) { return s.run.running, s.run.running }

// runnerMsg gives msg to the runner. handled is true when the screen has
// nothing more to do with msg: it was the runner's, or the step is running
// (keys wait until it ends).
func (s *stepScreen) runnerMsg(msg tea.Msg) (cmd tea.Cmd, handled bool) {
	done, cmd := s.run.update(msg)
	s.done = s.done || done
	return cmd, done || cmd != nil || s.run.running
}

// confirmUpdate is the Update of a screen that runs its step on enter and
// moves on with enter once the step is done.
func (s *stepScreen) confirmUpdate(msg tea.Msg) tea.Cmd {
	if cmd, handled := s.runnerMsg(msg); handled {
		return cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.keys.Enter) {
		if s.done {
			return next
		}
		return s.run.start(nil, Secrets{})
	}
	return nil
}

// phase picks the words for the phase the screen is in; a running step
// gets its elapsed time.
func (s *stepScreen) phase(idle, running, done string) string {
	switch {
	case s.run.running:
		return running + " " + s.run.elapsed().String()
	case s.done:
		return done
	}
	return idle
}

// phaseKeys is the footer for the phase: no keys while the step runs.
func (s *stepScreen) phaseKeys(idle, done []key.Binding) []key.Binding {
	switch {
	case s.run.running:
		return nil
	case s.done:
		return done
	}
	return idle
}

// formScreen is a step screen that asks its questions in a huh form first.
type formScreen struct {
	stepScreen
	form *huh.Form
	// head is what the screen draws over the form (its title, ending in an
	// empty line): the form gets the rest of the height, as wrapped at the
	// screen's width, and keeps its focused field in it.
	head func() string
	// selects are the form's selects: huh only ever shrinks a field to the
	// form's height, so they are let grow again before each resize.
	selects []*selectField
}

func (s *formScreen) Init() tea.Cmd { return s.form.Init() }

func (s *formScreen) Typing() bool {
	return !s.done && !s.run.running && s.form.State == huh.StateNormal
}

// Busy: the form screens' steps only read, or write files atomically.
func (s *formScreen) Busy() (bool, bool) { return s.run.running, false }

// SetSize also sizes the form (set here, as huh follows the window size
// only while no width was ever set).
func (s *formScreen) SetSize(w, h int) {
	s.frame.SetSize(w, h)
	s.form = sizeForm(s.form, s.selects, w, h-wrappedHeight(s.head(), w))
}

// sizeForm fits f to w×h: huh scrolls the group to its focused field, and
// a select taller than h scrolls its options to the selected one.
func sizeForm(f *huh.Form, selects []*selectField, w, h int) *huh.Form {
	for _, s := range selects {
		s.height = 0
	}
	h = max(h, 3)
	f = f.WithWidth(w).WithHeight(h)
	// huh's group draws its fields in Update: redraw them at the new size.
	f, _ = updateForm(f, tea.WindowSizeMsg{Width: w, Height: h})
	return f
}

// fill passes msg to the form; once the form is complete, submit says what
// to record and the step runs.
func (s *formScreen) fill(msg tea.Msg, submit func() (Inputs, Secrets)) tea.Cmd {
	var cmd tea.Cmd
	s.form, cmd = updateForm(s.form, msg)
	if s.form.State != huh.StateCompleted {
		return cmd
	}
	in, sec := submit()
	return tea.Batch(cmd, s.run.start(&in, sec))
}

// next asks the root for the screen of the rollout's current step.
func next() tea.Msg { return nextMsg{} }

// titleHead is a form screen's head that is its title alone.
func titleHead(st *Styles, title string) func() string {
	return func() string { return st.Title.Render(title) + "\n\n" }
}
