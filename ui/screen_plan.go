package ui

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/steps"
)

type planAnswers struct {
	mode    string
	hosts   string
	server  string
	origins string
	email   string
	// cert and key are the origin's own certificate and key files.
	cert, key string
}

// planScreen asks how to roll out (mode, hostnames, server, origins), runs
// plan, and shows what will change before anything does.
type planScreen struct {
	formScreen
	ans *planAnswers
	// certs asks for the origin's own certificate where the server needs
	// one; sitesFor is the server whose sites were last asked for; inCert
	// says the certificate field had the focus after the last message.
	certs    *serverCertFields
	sitesFor string
	inCert   bool
	// question caches certQuestion for the answers it was worked out for.
	question struct {
		key questionKey
		q   steps.ServerCertQuestion
	}
}

// questionKey is what the certificate question depends on that the form
// changes.
type questionKey struct {
	mode, server, hosts string
	found               *sites.Config
}

// originServers are the servers the plan offers, in its order.
var originServers = []render.Server{render.Nginx, render.Apache, render.HAProxy, render.Caddy, render.Traefik, render.Envoy, render.IngressNginx, render.Builtin}

// modeOptions explain each mode in one line.
var modeOptions = []huh.Option[string]{
	huh.NewOption("Zone: your own CA, every hostname of the zone", ModeZone),
	huh.NewOption("Per-hostname: your own CA, only the hostnames you list", ModeHostname),
	huh.NewOption("Global: Cloudflare's shared certificate (any Cloudflare zone passes)", ModeGlobal),
}

func newPlan(c *common) *planScreen {
	in := c.sum.Inputs
	a := &planAnswers{mode: in.Mode, hosts: strings.Join(in.Hostnames, " "), server: in.Server,
		origins: strings.Join(in.Origins, ", "), email: in.AlertsEmail, cert: in.ServerCert, key: in.ServerKey}
	if a.mode == "" {
		a.mode = ModeZone
	}
	if a.server == "" {
		a.server = c.opts.Server
	}
	if a.server == "" {
		a.server = string(render.Nginx)
	}
	s := &planScreen{formScreen: formScreen{stepScreen: newStepScreen(c, StepPlan), head: titleHead(c.st, "Plan the rollout")}, ans: a}
	zone := in.Zone
	var servers []huh.Option[string]
	for _, sv := range originServers {
		label := string(sv)
		if string(sv) == c.opts.Server {
			label += " (detected)"
		}
		servers = append(servers, huh.NewOption(label, string(sv)))
	}
	mode := newSelect(c.st).Title("Mode").Options(modeOptions...).Value(&a.mode)
	server := newSelect(c.st).Title("Origin server").Options(servers...).Value(&a.server)
	s.selects = []*selectField{mode, server}
	s.certs = newServerCertFields(c.st, s.answered, s.certQuestion, &a.cert, &a.key)
	s.form = newForm(
		huh.NewGroup(mode),
		huh.NewGroup(
			newInput(c.st).Title("Hostnames").Placeholder("www."+zone+" api."+zone).
				Value(&a.hosts).
				Note(func(v string) string { return hostsSummary(v, zone, a.mode) }).
				Validate(func(v string) error { return checkHostnames(v, zone, a.mode) }),
		),
		huh.NewGroup(
			server,
			newInput(c.st).Title("Origin addresses").Placeholder("203.0.113.10, [2001:db8::1]:8443").
				Description("IP[:port] of each origin, probed directly to verify.").
				Value(&a.origins).Validate(func(v string) error {
				_, err := parseOrigins(v)
				return err
			}),
		),
		huh.NewGroup(s.certs.cert, s.certs.key).WithHideFunc(func() bool { return !s.certQuestion().Cert }),
		huh.NewGroup(
			newInput(c.st).Title("Expiry alert email (optional)").Value(&a.email).
				Validate(func(v string) error {
					if v = strings.TrimSpace(v); v != "" && !strings.Contains(v, "@") {
						return errors.New("an email address has an @")
					}
					return nil
				}),
		).WithHideFunc(func() bool { return a.mode == ModeGlobal }),
	)
	return s
}

// parseHostnames splits pasted text on commas, spaces and new lines and
// checks every name; bad holds one message per rejected name.
func parseHostnames(text, zone string) (ok, bad []string) {
	seen := map[string]bool{}
	for _, h := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		h = pki.NormalizeName(h)
		switch err := pki.ValidateHostname(h); {
		case err != nil:
			bad = append(bad, err.Error())
		case zone != "" && !pki.InDomain(h, zone):
			bad = append(bad, fmt.Sprintf("%s is not in zone %s", h, zone))
		case !seen[h]:
			seen[h] = true
			ok = append(ok, h)
		}
	}
	return ok, bad
}

// checkHostnames rejects pasted hostnames with a bad one, or none in
// per-hostname mode (the form and the accessible mode ask alike).
func checkHostnames(text, zone, mode string) error {
	ok, bad := parseHostnames(text, zone)
	if len(bad) > 0 {
		return errors.New(bad[0])
	}
	if len(ok) == 0 && mode == ModeHostname {
		return errors.New("per-hostname mode needs at least one hostname")
	}
	return nil
}

// hostsSummary is the live validation line under the hostnames field.
func hostsSummary(text, zone, mode string) string {
	ok, bad := parseHostnames(text, zone)
	what := "to verify through (optional)"
	if mode == ModeHostname {
		what = "to protect"
	}
	s := fmt.Sprintf("%d valid %s", len(ok), what)
	if len(bad) > 0 {
		s += fmt.Sprintf("; %d rejected: %s", len(bad), bad[0])
	}
	return s + ". Separate with spaces or commas; paste many at once."
}

// parseOrigins checks a comma or space separated list of IP[:port].
func parseOrigins(text string) ([]string, error) {
	var out []string
	for _, o := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' }) {
		host := o
		if h, _, err := net.SplitHostPort(o); err == nil {
			host = h
		}
		if net.ParseIP(strings.Trim(host, "[]")) == nil {
			return nil, fmt.Errorf("%s is not an IP address or IP:port", o)
		}
		out = append(out, o)
	}
	return out, nil
}

func (s *planScreen) Status() string {
	return s.phase("your input", "working out the changes", "review the plan")
}

func (s *planScreen) Keys() []key.Binding {
	return s.phaseKeys(formKeys(s.c.keys), []key.Binding{withHelp(s.c.keys.Enter, "go ahead")})
}

func (s *planScreen) Init() tea.Cmd {
	return tea.Batch(s.formScreen.Init(), s.readSites())
}

// readSites reads the sites of the server picked, for the certificate
// of the site that serves the hostnames.
func (s *planScreen) readSites() tea.Cmd {
	if s.ans.server == s.sitesFor {
		return nil
	}
	s.sitesFor = s.ans.server
	return readSites(s.c, s.answered())
}

// answered is the rollout's inputs with the form's answers so far.
func (s *planScreen) answered() Inputs {
	in := s.c.sum.Inputs
	in.Mode, in.Server = s.ans.mode, s.ans.server
	in.Hostnames, _ = parseHostnames(s.ans.hosts, in.Zone)
	return in
}

// certQuestion is steps' answer on the origin's own certificate for the
// answers so far. The form asks it on every key press (hidden groups):
// it is worked out again only when an answer it depends on changed.
func (s *planScreen) certQuestion() steps.ServerCertQuestion {
	key := questionKey{s.ans.mode, s.ans.server, s.ans.hosts, s.c.sites[s.ans.server]}
	if key != s.question.key {
		s.question.key, s.question.q = key, serverCertQuestion(key.found, s.answered())
	}
	return s.question.q
}

func (s *planScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if cmd, handled := s.runnerMsg(msg); handled {
		return s, cmd
	}
	if !s.done {
		cmd := s.fill(msg, s.submit)
		// Entering the certificate's group, or the sites arriving while
		// in it, suggests the files (not every key: a field emptied to
		// type another path stays empty).
		_, arrived := msg.(sitesMsg)
		in := s.form.State == huh.StateNormal && s.form.GetFocusedField() == huh.Field(s.certs.cert)
		if in && (!s.inCert || arrived) {
			s.certs.suggest(s.c.sum.Inputs, s.certQuestion())
		}
		s.inCert = in
		if read := s.readSites(); read != nil {
			cmd = tea.Batch(cmd, read)
		}
		return s, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.keys.Enter) {
		return s, next
	}
	return s, nil
}

func (s *planScreen) submit() (Inputs, Secrets) {
	in := s.c.sum.Inputs
	in.Mode = s.ans.mode
	in.Hostnames, _ = parseHostnames(s.ans.hosts, in.Zone)
	in.Origins, _ = parseOrigins(s.ans.origins)
	in.Server = s.ans.server
	serverCertAnswer(&in, s.certQuestion(), s.ans.cert, s.ans.key)
	in.AlertsEmail = strings.TrimSpace(s.ans.email)
	if in.Mode == ModeGlobal {
		in.AlertsEmail = ""
	}
	return in, Secrets{}
}

func (s *planScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(s.head())
	switch {
	case s.run.running:
		b.WriteString(s.run.view("working out what will change"))
	case s.done:
		b.WriteString("Nothing has changed yet. This is what the rollout will do:\n\n")
		b.WriteString(planView(st, s.c.sum.Plan, s.w))
	default:
		b.WriteString(s.form.View())
	}
	return b.String()
}

// planView lays out the plan's lines as the plan step writes them:
// headings ("In Cloudflare:") flush left, items ("  - …") as bullets, and
// an item's continuation ("    …") under its text, each wrapped at w with
// its indent kept.
func planView(st *Styles, lines []string, w int) string {
	var b strings.Builder
	for _, l := range lines {
		text := strings.TrimLeft(l, " ")
		switch {
		case strings.HasPrefix(text, "- "):
			b.WriteString(hanging("  "+st.Accent.Render("•")+" ", "    ", strings.TrimPrefix(text, "- "), w))
		case len(text) < len(l):
			b.WriteString(hanging("    ", "    ", text, w))
		case strings.HasSuffix(text, ":"):
			b.WriteString(hanging("", "", st.Current.Render(text), w))
		default:
			b.WriteString(hanging("", "", text, w))
		}
	}
	return b.String()
}

// hanging is text wrapped at w cells, lead before its first line and
// indent before the others (as wide as lead), so it reads as one item.
func hanging(lead, indent, text string, w int) string {
	var b strings.Builder
	for i, part := range wrapLines(text, max(w-len(indent), 10)) {
		if i == 0 {
			b.WriteString(lead)
		} else {
			b.WriteString(indent)
		}
		b.WriteString(part + "\n")
	}
	return b.String()
}

// bulletList is items as bullets, each wrapped under its own text.
func bulletList(st *Styles, items []string, w int) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(hanging("  "+st.Accent.Render("•")+" ", "    ", it, w))
	}
	return b.String()
}
