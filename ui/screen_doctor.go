package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/aopwizard/aopwizard/steps/doctor"
)

// Doctor checks a zone's health for the doctor screen. cmd hands in one
// that reads Cloudflare (Options.Doctor); the screen is offered only then.
type Doctor interface {
	// Diagnose runs doctor.Diagnose on zone with token, probing origins
	// (none: no probes).
	Diagnose(ctx context.Context, token, zone string, origins []string) (*doctor.Report, error)
	// Command is the command line that applies a finding's action, ""
	// when there is none.
	Command(a doctor.Action, rep *doctor.Report, origins []string) string
}

// stepDoctor is the doctor screen's Step: not a rollout step, but not ""
// either, so esc goes back to the start screen as from the first step.
const stepDoctor = "doctor"

type doctorAnswers struct{ token, zone, origins string }

// doctorScreen asks for a zone (and origins), runs the doctor in a command
// and shows its findings, each with its severity as a word.
type doctorScreen struct {
	frame
	ans      *doctorAnswers
	askToken bool
	form     *huh.Form
	running  bool
	seq      int
	rep      *doctor.Report
	origins  []string
	err      error
	offset   int
}

// doctorMsg is a doctor run's end; seq drops the answer of a run the
// screen no longer waits for.
type doctorMsg struct {
	seq int
	rep *doctor.Report
	err error
}

func newDoctorScreen(c *common) *doctorScreen {
	s := &doctorScreen{frame: frame{c: c}, ans: &doctorAnswers{zone: c.sum.Inputs.Zone}, askToken: c.token == ""}
	s.newForm()
	return s
}

func (s *doctorScreen) newForm() {
	var fields []huh.Field
	if s.askToken {
		fields = append(fields, tokenField(s.c.st, "Read access is enough: the doctor changes nothing. Kept in memory only.", &s.ans.token))
	}
	fields = append(fields,
		newInput(s.c.st).Title("Zone to check").Placeholder("example.com").Value(&s.ans.zone).Validate(checkZone),
		newInput(s.c.st).Title("Origins to probe (optional)").Placeholder("203.0.113.10 198.51.100.7:8443").
			Description("Addresses separated by spaces or commas; empty checks Cloudflare only.").Value(&s.ans.origins))
	s.form = sizeForm(newForm(huh.NewGroup(fields...)), nil, max(s.w, 10), s.h-wrappedHeight(s.intro(), s.w))
}

func (s *doctorScreen) Init() tea.Cmd { return s.form.Init() }
func (s *doctorScreen) Title() string { return "Doctor" }
func (s *doctorScreen) Step() string  { return stepDoctor }
func (s *doctorScreen) Typing() bool {
	return !s.running && s.rep == nil && s.err == nil && s.form.State == huh.StateNormal
}

// Busy: the doctor only reads, so Ctrl-C stops it at once.
func (s *doctorScreen) Busy() (bool, bool) { return s.running, false }

func (s *doctorScreen) SetSize(w, h int) {
	s.frame.SetSize(w, h)
	s.form = sizeForm(s.form, nil, w, h-wrappedHeight(s.intro(), w))
}

func (s *doctorScreen) Status() string {
	switch {
	case s.running:
		return "checking " + strings.TrimSpace(s.ans.zone)
	case s.err != nil:
		return "could not check"
	case s.rep != nil:
		return map[doctor.Severity]string{doctor.OK: "healthy", doctor.Info: "healthy", doctor.Warn: "warnings", doctor.Error: "problems found"}[s.rep.Worst()]
	}
	return "your input"
}

func (s *doctorScreen) Keys() []key.Binding {
	k := s.c.keys
	switch {
	case s.running:
		return nil
	case s.rep != nil || s.err != nil:
		return []key.Binding{k.Up, k.Down, withHelp(k.Retry, "check again"), withHelp(k.Enter, "another zone")}
	}
	return formKeys(k)
}

func (s *doctorScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	switch msg := msg.(type) {
	case doctorMsg:
		if msg.seq == s.seq && s.running {
			s.running, s.rep, s.err, s.offset = false, msg.rep, msg.err, 0
		}
		return s, nil
	case tea.KeyPressMsg:
		if s.running {
			return s, nil
		}
		if s.rep != nil || s.err != nil {
			k := s.c.keys
			switch {
			case key.Matches(msg, k.Up):
				s.offset = max(s.offset-1, 0)
			case key.Matches(msg, k.Down):
				s.offset = min(s.offset+1, max(len(s.wrapped())-s.h, 0))
			case key.Matches(msg, k.Retry):
				return s, s.run()
			case key.Matches(msg, k.Enter):
				s.rep, s.err = nil, nil
				s.newForm()
				return s, s.form.Init()
			}
			return s, nil
		}
	}
	if s.running || s.rep != nil || s.err != nil {
		return s, nil
	}
	var cmd tea.Cmd
	s.form, cmd = updateForm(s.form, msg)
	if s.form.State != huh.StateCompleted {
		return s, cmd
	}
	return s, tea.Batch(cmd, s.run())
}

// run starts the doctor in a command: it reads Cloudflare and may probe
// origins, which takes seconds, so Update never waits for it.
func (s *doctorScreen) run() tea.Cmd {
	if s.askToken && strings.TrimSpace(s.ans.token) != "" {
		s.c.token = strings.TrimSpace(s.ans.token)
	}
	s.seq++
	s.running, s.rep, s.err = true, nil, nil
	s.origins = strings.FieldsFunc(s.ans.origins, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	ctx, d, seq, token, zone, origins := s.c.ctx, s.c.opts.Doctor, s.seq, s.c.token, strings.TrimSpace(s.ans.zone), s.origins
	return func() tea.Msg {
		rep, err := d.Diagnose(ctx, token, zone, origins)
		return doctorMsg{seq: seq, rep: rep, err: err}
	}
}

// severityWord is a finding's severity as glyph and word, so it reads
// without colour too.
func (s *doctorScreen) severityWord(sev doctor.Severity) string {
	st := s.c.st
	switch sev {
	case doctor.Error:
		return st.Fail.Render("✗ ERROR")
	case doctor.Warn:
		return st.Warn.Render("! WARN ")
	case doctor.Info:
		return st.Subtle.Render("i info ")
	}
	return st.OK.Render("✓ ok   ")
}

// lines is the report, one entry per line before wrapping.
func (s *doctorScreen) lines() []string {
	st, rep := s.c.st, s.rep
	if s.err != nil {
		out := []string{st.Fail.Render("✗ could not check ") + strings.TrimSpace(s.ans.zone) + ": " + s.err.Error()}
		var r remedier
		if errors.As(s.err, &r) && r.Remedy() != "" {
			out = append(out, "", "  fix: "+r.Remedy())
		}
		return out
	}
	onOff := map[bool]string{true: "on", false: "off"}
	out := []string{
		st.Title.Render("Zone "+rep.Zone) + st.Subtle.Render(" · checked "+rep.CheckedAt.UTC().Format("2006-01-02 15:04 UTC")),
		fmt.Sprintf("SSL/TLS mode %s · global AOP %s · zone-level AOP %s", orDash(rep.SSLMode), onOff[rep.GlobalAOP], onOff[rep.ZoneAOP]),
	}
	counts := map[doctor.Severity]int{}
	for _, f := range rep.Findings {
		counts[f.Severity]++
	}
	out = append(out, fmt.Sprintf("%d certificates · %d hostnames · %d errors · %d warnings", len(rep.Certificates), len(rep.Hostnames), counts[doctor.Error], counts[doctor.Warn]), "")
	for _, f := range rep.Findings {
		subject := ""
		if f.Subject != "" {
			subject = f.Subject + ": "
		}
		out = append(out, s.severityWord(f.Severity)+" "+subject+f.Message)
		if f.Remedy != "" {
			out = append(out, "        "+st.Label.Render("fix: ")+f.Remedy)
		}
		if cmd := s.c.opts.Doctor.Command(f.Action, rep, s.origins); cmd != "" {
			out = append(out, "        "+st.Label.Render("run: ")+st.Accent.Render(cmd))
		}
	}
	return out
}

// wrapped is lines wrapped at the screen's width, so scrolling reaches
// the last line however narrow the terminal.
func (s *doctorScreen) wrapped() []string { return wrapTo(strings.Join(s.lines(), "\n"), s.w) }

func (s *doctorScreen) View() string {
	st := s.c.st
	switch {
	case s.running:
		return st.Running.Render("● checking "+strings.TrimSpace(s.ans.zone)+"…") + "\n\n" +
			st.Subtle.Render("Reading its settings, certificates, associations and alerts; probing the origins given.")
	case s.rep != nil || s.err != nil:
		lines := s.wrapped()
		return strings.Join(lines[min(s.offset, len(lines)):], "\n")
	}
	return s.intro() + s.form.View()
}

// intro is the line over the doctor's form.
func (s *doctorScreen) intro() string {
	return s.c.st.Subtle.Render("Checks any zone, set up by aopwizard or not; changes nothing.") + "\n\n"
}
