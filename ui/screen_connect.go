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
	formScreen
	ans *connectAnswers
	// askToken is set when the form asks for the API token.
	askToken bool
	// zoneField completes from zones, the zones the token sees (when the
	// flow can list them), asked for once per token.
	zoneField  *inputField
	zones      []string
	zonesAsked bool
}

// zonesMsg carries the zones a token sees.
type zonesMsg struct {
	zones []string
	err   error
}

func newConnect(c *common) *connectScreen {
	s := &connectScreen{formScreen: formScreen{stepScreen: newStepScreen(c, StepConnect)}, ans: &connectAnswers{zone: c.sum.Inputs.Zone}}
	var fields []huh.Field
	// Ask for a token when there is none, and again after connect failed:
	// the token held may be the reason.
	s.askToken = c.token == ""
	if st := c.sum.Step(StepConnect); st != nil && st.Status == StatusFailed {
		s.askToken = true
	}
	if s.askToken {
		fields = append(fields, tokenField(c.st, "Needs SSL and Certificates Edit and Zone Settings Edit on the zone. Kept in memory only.", &s.ans.token))
	}
	s.zoneField = newInput(c.st).Title("Zone").Placeholder("example.com").
		Description("The domain as it appears in the Cloudflare dashboard.").
		Value(&s.ans.zone).Validate(checkZone).Note(s.zonesNote)
	fields = append(fields, s.zoneField)
	s.form = newForm(huh.NewGroup(fields...))
	s.head = func() string {
		h := c.st.Title.Render("Connect to Cloudflare") + "\n"
		if s.tokenLine() != "" {
			h += c.st.Subtle.Render(s.tokenLine()) + "\n"
		}
		return h + "\n"
	}
	return s
}

// tokenLine says where the token comes from when the screen does not ask.
func (s *connectScreen) tokenLine() string {
	switch {
	case s.askToken || s.c.opts.Token == "":
		return ""
	case s.c.opts.Demo:
		return "Using the simulated Cloudflare's own API token."
	}
	return "Using the API token from CLOUDFLARE_API_TOKEN."
}

func (s *connectScreen) Init() tea.Cmd {
	if s.askToken {
		return s.form.Init()
	}
	return tea.Batch(s.form.Init(), s.zonesCmd(s.c.token))
}

// zonesCmd lists the zones token sees, when the flow can.
func (s *connectScreen) zonesCmd(token string) tea.Cmd {
	zl, ok := s.c.flow.(ZoneLister)
	if !ok || s.zonesAsked || token == "" {
		return nil
	}
	s.zonesAsked = true
	ctx := s.c.ctx
	return func() tea.Msg {
		z, err := zl.Zones(ctx, token)
		return zonesMsg{zones: z, err: err}
	}
}

// checkZone rejects an empty or malformed zone (connect and doctor ask
// alike).
func checkZone(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("the zone is required")
	}
	return pki.ValidateDomain(strings.TrimSpace(v))
}

// zonesNote names the zones the token sees that contain what is typed,
// under the zone field.
func (s *connectScreen) zonesNote(typed string) string {
	if m := s.matchingZones(typed); len(m) > 0 {
		return "your zones: " + strings.Join(m, ", ")
	}
	return ""
}

// matchingZones are the zones that contain typed, the first few.
func (s *connectScreen) matchingZones(typed string) []string {
	var out []string
	typed = strings.ToLower(strings.TrimSpace(typed))
	for _, z := range s.zones {
		if strings.Contains(z, typed) {
			out = append(out, z)
		}
		if len(out) == 4 {
			break
		}
	}
	return out
}

func (s *connectScreen) Status() string {
	done := "connected"
	switch {
	case s.c.sum.SSLFix != "" && s.c.sum.SSLMode == "full":
		done = "Full (strict) recommended"
	case s.c.sum.SSLFix != "":
		done = "SSL/TLS mode needs a change"
	}
	return s.phase("your input", "checking the token and the zone", done)
}

func (s *connectScreen) Keys() []key.Binding {
	k := s.c.keys
	done := []key.Binding{k.Enter}
	if s.c.sum.SSLFix != "" {
		done = []key.Binding{k.Fix, withHelp(k.Enter, "continue anyway")}
	}
	idle := formKeys(k)
	if len(s.zones) > 0 {
		idle = append(idle, key.NewBinding(key.WithKeys("ctrl+e"), key.WithHelp("ctrl+e", "complete zone")))
	}
	return s.phaseKeys(idle, done)
}

func (s *connectScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if z, ok := msg.(zonesMsg); ok {
		// Without the list, the zone is typed in full: no need to say more.
		if z.err == nil {
			s.zones = z.zones
			s.zoneField.Suggestions(z.zones)
		}
		// huh's group draws its fields in Update: pass the news through it.
		var cmd tea.Cmd
		s.form, cmd = updateForm(s.form, z)
		return s, cmd
	}
	if cmd, handled := s.runnerMsg(msg); handled {
		return s, cmd
	}
	if !s.done {
		cmd := s.fill(msg, s.submit)
		if s.form.GetFocusedField() == huh.Field(s.zoneField) {
			cmd = tea.Batch(cmd, s.zonesCmd(strings.TrimSpace(s.ans.token)))
		}
		return s, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, s.c.keys.Enter):
			return s, next
		case key.Matches(k, s.c.keys.Fix) && s.c.sum.SSLFix != "":
			s.done = false
			in, sec := s.submit()
			in.SetSSLStrict = true
			return s, s.run.start(&in, sec)
		}
	}
	return s, nil
}

// submit keeps the token typed for the rest of the run (memory only) and
// says what to record.
func (s *connectScreen) submit() (Inputs, Secrets) {
	if t := strings.TrimSpace(s.ans.token); t != "" {
		s.c.token = t
		s.ans.token = ""
	}
	return s.inputs(), Secrets{Token: s.c.token}
}

func (s *connectScreen) inputs() Inputs {
	in := s.c.sum.Inputs
	in.Zone = pki.NormalizeName(strings.TrimSpace(s.ans.zone))
	return in
}

func (s *connectScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(s.head())
	switch {
	case s.run.running:
		b.WriteString(s.run.view("checking the token and zone " + s.ans.zone))
	case s.done:
		sum := s.c.sum
		fmt.Fprintf(&b, "%s token accepted, zone %s found\n", st.OK.Render("✓"), sum.Inputs.Zone)
		if sum.SSLFix == "" {
			fmt.Fprintf(&b, "%s SSL/TLS mode: %s\n", st.OK.Render("✓"), orDash(sum.SSLMode))
		} else {
			if sum.SSLMode == "full" {
				// AOP works under Full: a recommendation, not a blocker.
				fmt.Fprintf(&b, "%s SSL/TLS mode full: Full (strict) recommended\n", st.Warn.Render("!"))
			} else {
				fmt.Fprintf(&b, "%s SSL/TLS mode %s needs a change\n", st.Warn.Render("!"), orDash(sum.SSLMode))
			}
			b.WriteString(sum.SSLFix + "\n\n")
			b.WriteString("Press " + st.Key.Render("f") + " to set it to Full (strict), or " + st.Key.Render("enter") + " to go on and change it yourself.\n")
		}
	default:
		b.WriteString(s.form.View())
	}
	return b.String()
}
