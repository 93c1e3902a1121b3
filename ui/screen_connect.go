package ui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/aopwizard/aopwizard/pki"
)

// connectAnswers is pointer-held so the huh fields bound to it see the
// answers whatever copies of the screen exist.
type connectAnswers struct {
	token string
	zone  string
}

// connectScreen asks for the API token (unless the environment has one) and
// the zone, runs connect, and shows the SSL/TLS mode preflight.
type connectScreen struct {
	frame
	ans  *connectAnswers
	form *huh.Form
	run  runner
	done bool
	// askToken is set when the form asks for the API token.
	askToken bool
}

func newConnect(c *common) *connectScreen {
	s := &connectScreen{frame: frame{c: c}, ans: &connectAnswers{zone: c.sum.Inputs.Zone}, run: newRunner(c, StepConnect)}
	var fields []huh.Field
	// Ask for a token when there is none, and again after connect failed:
	// the token held may be the reason.
	s.askToken = c.token == ""
	if st := c.sum.Step(StepConnect); st != nil && st.Status == StatusFailed {
		s.askToken = true
	}
	if s.askToken {
		fields = append(fields, huh.NewInput().Title("Cloudflare API token").
			Description("Needs SSL and Certificates Edit and Zone Settings Edit on the zone. Kept in memory only.").
			EchoMode(huh.EchoModePassword).Value(&s.ans.token).
			Validate(func(v string) error {
				if strings.TrimSpace(v) == "" {
					return errors.New("a token is required (or set CLOUDFLARE_API_TOKEN)")
				}
				return nil
			}))
	}
	fields = append(fields, huh.NewInput().Title("Zone").Placeholder("example.com").
		Description("The domain as it appears in the Cloudflare dashboard.").
		Value(&s.ans.zone).Validate(func(v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("the zone is required")
		}
		return pki.ValidateDomain(strings.TrimSpace(v))
	}))
	s.form = newForm(huh.NewGroup(fields...))
	return s
}

func (s *connectScreen) Init() tea.Cmd { return s.form.Init() }
func (s *connectScreen) Title() string { return "Connect" }
func (s *connectScreen) Step() string  { return StepConnect }
func (s *connectScreen) Typing() bool  { return s.form.State == huh.StateNormal }
func (s *connectScreen) Busy() (bool, bool) {
	return s.run.running, false
}

func (s *connectScreen) SetSize(w, h int) {
	s.frame.SetSize(w, h)
	s.form = s.form.WithWidth(w)
}

func (s *connectScreen) Status() string {
	switch {
	case s.run.running:
		return "checking the token and the zone"
	case s.done && s.c.sum.SSLFix != "":
		return "SSL/TLS mode needs a change"
	case s.done:
		return "connected"
	}
	return "your input"
}

func (s *connectScreen) Keys() []key.Binding {
	k := s.c.keys
	switch {
	case s.done && s.c.sum.SSLFix != "":
		return []key.Binding{k.Fix, withHelp(k.Enter, "continue anyway")}
	case s.done:
		return []key.Binding{k.Enter}
	case s.run.running:
		return nil
	}
	return formKeys(k)
}

func (s *connectScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if done, cmd := s.run.update(msg); done || cmd != nil {
		s.done = s.done || done
		return s, cmd
	}
	if s.run.running {
		return s, nil
	}
	if s.done {
		if msg, ok := msg.(tea.KeyPressMsg); ok {
			switch {
			case key.Matches(msg, s.c.keys.Enter):
				return s, next
			case key.Matches(msg, s.c.keys.Fix) && s.c.sum.SSLFix != "":
				s.done = false
				in := s.inputs()
				in.SetSSLStrict = true
				return s, s.run.start(&in, Secrets{Token: s.c.token})
			}
		}
		return s, nil
	}
	var cmd tea.Cmd
	s.form, cmd = updateForm(s.form, msg)
	if s.form.State == huh.StateCompleted {
		if s.ans.token != "" {
			s.c.token = strings.TrimSpace(s.ans.token)
			s.ans.token = ""
		}
		in := s.inputs()
		return s, tea.Batch(cmd, s.run.start(&in, Secrets{Token: s.c.token}))
	}
	return s, cmd
}

func (s *connectScreen) inputs() Inputs {
	in := s.c.sum.Inputs
	in.Zone = pki.NormalizeName(strings.TrimSpace(s.ans.zone))
	return in
}

func (s *connectScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(st.Title.Render("Connect to Cloudflare") + "\n")
	if s.c.opts.Token != "" && !s.askToken {
		b.WriteString(st.Subtle.Render("Using the API token from CLOUDFLARE_API_TOKEN.") + "\n")
	}
	b.WriteString("\n")
	switch {
	case s.run.running:
		b.WriteString(s.run.view("checking the token and zone " + s.ans.zone))
	case s.done:
		sum := s.c.sum
		fmt.Fprintf(&b, "%s token accepted, zone %s found\n", st.OK.Render("✓"), sum.Inputs.Zone)
		if sum.SSLFix == "" {
			fmt.Fprintf(&b, "%s SSL/TLS mode: %s\n", st.OK.Render("✓"), orDash(sum.SSLMode))
		} else {
			fmt.Fprintf(&b, "%s SSL/TLS mode: %s\n", st.Warn.Render("! needs a change:"), orDash(sum.SSLMode))
			b.WriteString(sum.SSLFix + "\n\n")
			b.WriteString("Press " + st.Key.Render("f") + " to set it to Full (strict), or " + st.Key.Render("enter") + " to go on and change it yourself.\n")
		}
	default:
		b.WriteString(s.form.View())
	}
	return b.String()
}

// next asks the root for the screen of the rollout's current step.
func next() tea.Msg { return nextMsg{} }
