package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// startScreen offers the unfinished rollouts to resume, or a new one.
type startScreen struct {
	frame
	loaded  bool
	list    []Summary
	cursor  int
	busy    string
	err     error
	listErr error
}

func newStart(c *common) *startScreen { return &startScreen{frame: frame{c: c}} }

func (s *startScreen) Init() tea.Cmd { return rolloutsCmd(s.c.ctx, s.c.flow) }

func (s *startScreen) Title() string { return "Start" }
func (s *startScreen) Step() string  { return "" }
func (s *startScreen) Typing() bool  { return false }
func (s *startScreen) Busy() (bool, bool) {
	return s.busy != "", false
}

func (s *startScreen) Status() string {
	if !s.loaded {
		return "looking for unfinished rollouts"
	}
	return ""
}

func (s *startScreen) Keys() []key.Binding {
	k := s.c.keys
	if s.c.opts.Doctor != nil {
		return []key.Binding{k.Up, k.Down, withHelp(k.Enter, "choose"), k.Doctor}
	}
	return []key.Binding{k.Up, k.Down, withHelp(k.Enter, "choose")}
}

func (s *startScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case rolloutsMsg:
		s.loaded, s.list, s.listErr = true, msg.list, msg.err
		s.cursor = 0
		if id := s.c.opts.Resume; id != "" {
			// Once: back on this screen later, the operator chooses.
			s.c.opts.Resume = ""
			for i, r := range s.list {
				if r.ID == id {
					s.cursor = i
					return s, s.choose()
				}
			}
		}
	case summaryMsg:
		s.busy = ""
		if msg.err != nil {
			s.err = msg.err
			return s, nil
		}
		return s, next
	case tea.KeyPressMsg:
		if !s.loaded || s.busy != "" {
			return s, nil
		}
		k := s.c.keys
		switch {
		case key.Matches(msg, k.Up):
			s.cursor = max(s.cursor-1, 0)
		case key.Matches(msg, k.Down):
			s.cursor = min(s.cursor+1, len(s.list))
		case key.Matches(msg, k.Doctor) && s.c.opts.Doctor != nil:
			d := newDoctorScreen(s.c)
			d.SetSize(s.w, s.h)
			return d, d.Init()
		case key.Matches(msg, k.Enter):
			return s, s.choose()
		}
	}
	return s, nil
}

// choose resumes the rollout under the cursor, or starts a new one.
func (s *startScreen) choose() tea.Cmd {
	s.err = nil
	ctx, f := s.c.ctx, s.c.flow
	if s.cursor < len(s.list) {
		id := s.list[s.cursor].ID
		s.busy = "resuming " + s.list[s.cursor].Inputs.Zone + "…"
		return summaryCmd(func() (Summary, error) { return f.Resume(ctx, id) })
	}
	s.busy = "starting…"
	return summaryCmd(func() (Summary, error) { return f.Start(ctx) })
}

func (s *startScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(st.Title.Render("Authenticated Origin Pulls") + "\n")
	if s.h >= 16 {
		b.WriteString(st.Subtle.Render("Cloudflare proves itself to your origin with a client certificate; your origin refuses everyone else.") + "\n")
	}
	b.WriteString("\n")
	if !s.loaded {
		b.WriteString("Looking for unfinished rollouts…\n")
		return b.String()
	}
	if s.listErr != nil {
		b.WriteString(st.Warn.Render("! could not list earlier rollouts: ") + s.listErr.Error() + "\n\n")
	}
	if len(s.list) > 0 {
		b.WriteString("Resume an unfinished rollout:\n")
	}
	now := s.c.now()
	for i, r := range s.list {
		b.WriteString(s.item(i, fmt.Sprintf("%s · %s mode · at %s · %s", r.Inputs.Zone, orDash(r.Inputs.Mode), reached(&r), age(now.Sub(r.Updated)))))
		if r.Waiting != "" {
			b.WriteString("    " + st.Subtle.Render("waits for "+r.Waiting) + "\n")
		}
	}
	if len(s.list) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(s.item(len(s.list), "Start a new rollout"))
	if s.c.opts.Doctor != nil {
		b.WriteString("\n" + st.Subtle.Render("Press d to check a zone's health (doctor).") + "\n")
	}
	if s.busy != "" {
		b.WriteString("\n" + st.Running.Render("● "+s.busy) + "\n")
	}
	if s.err != nil {
		b.WriteString("\n" + st.Fail.Render("✗ ") + s.err.Error() + "\n")
	}
	return b.String()
}

func (s *startScreen) item(i int, label string) string {
	if i == s.cursor {
		return s.c.st.Selected.Render("› "+label) + "\n"
	}
	return "  " + label + "\n"
}

// reached names the step a rollout stopped at, with its position.
func reached(r *Summary) string {
	cur := r.Current()
	for i, st := range r.Steps {
		if st.Name == cur {
			return fmt.Sprintf("%s (%d/%d)", strings.ToLower(stepTitle(cur)), i+1, len(r.Steps))
		}
	}
	return "the end"
}

// age says how long ago, in the largest whole unit.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// withHelp is b with another help text (the same keys).
func withHelp(b key.Binding, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(b.Keys()...), key.WithHelp(b.Help().Key, desc))
}
