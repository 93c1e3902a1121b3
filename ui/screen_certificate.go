package ui

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

type certAnswers struct {
	source     string
	pass       string
	pass2      string
	importCert string
	importKey  string
	importCA   string
	reuse      string
}

// certificateScreen picks where the client certificate comes from, asks
// for the CA passphrase twice, and shows the certificate once there is one.
// Global mode has nothing to choose: Cloudflare's certificate.
type certificateScreen struct {
	formScreen
	ans    *certAnswers
	global bool
}

func newCertificate(c *common) *certificateScreen {
	in := c.sum.Inputs
	a := &certAnswers{source: in.CertSource, importCert: in.ImportCert, importKey: in.ImportKey, importCA: in.ImportCA, reuse: in.ReuseCert}
	if a.source == "" || a.source == CertCloudflare {
		a.source = CertGenerate
	}
	s := &certificateScreen{formScreen: formScreen{stepScreen: newStepScreen(c, StepCertificate), head: titleHead(c.st, "Client certificate")}, ans: a, global: in.Mode == ModeGlobal}
	required := func(what string) func(string) error {
		return func(v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New(what + " is required")
			}
			return nil
		}
	}
	source := newSelect(c.st).Title("Client certificate").Value(&a.source).Options(
		huh.NewOption("Generate a new CA and certificate here", CertGenerate),
		huh.NewOption("Import a certificate and key I have", CertImport),
		huh.NewOption("Reuse one already uploaded to Cloudflare", CertReuse),
	)
	s.selects = []*selectField{source}
	input := func() *inputField { return newInput(c.st) }
	s.form = newForm(
		huh.NewGroup(source),
		huh.NewGroup(
			input().Title("CA key passphrase").Password().Value(&a.pass).
				Description("Encrypts the CA key on disk. Empty: the key is stored unencrypted (mode 0600)."),
			input().Title("Passphrase again").Password().Value(&a.pass2).
				Validate(func(v string) error {
					if v != a.pass {
						return errors.New("the two passphrases differ")
					}
					return nil
				}),
		).WithHideFunc(func() bool { return a.source != CertGenerate }),
		huh.NewGroup(
			input().Title("Certificate file (PEM)").Value(&a.importCert).Validate(required("the certificate file")),
			input().Title("Key file (PEM)").Value(&a.importKey).Validate(required("the key file")),
			input().Title("CA file (PEM, optional)").Value(&a.importCA),
			input().Title("Key passphrase (if encrypted)").Password().Value(&a.pass),
		).WithHideFunc(func() bool { return a.source != CertImport }),
		huh.NewGroup(
			input().Title("Certificate id or SHA-256 fingerprint").Value(&a.reuse).Validate(required("the certificate id or fingerprint")),
		).WithHideFunc(func() bool { return a.source != CertReuse }),
	)
	return s
}

func (s *certificateScreen) Init() tea.Cmd {
	if s.global {
		return nil
	}
	return s.form.Init()
}

func (s *certificateScreen) Typing() bool { return !s.global && s.formScreen.Typing() }

func (s *certificateScreen) Status() string {
	return s.phase("your input", "preparing the certificate", "certificate ready")
}

func (s *certificateScreen) Keys() []key.Binding {
	idle := formKeys(s.c.keys)
	if s.global {
		idle = []key.Binding{s.c.keys.Enter}
	}
	return s.phaseKeys(idle, []key.Binding{s.c.keys.Enter})
}

func (s *certificateScreen) Update(msg tea.Msg) (screen, tea.Cmd) {
	if cmd, handled := s.runnerMsg(msg); handled {
		return s, cmd
	}
	if !s.done && !s.global {
		return s, s.fill(msg, s.submit)
	}
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, s.c.keys.Enter) {
		if s.done {
			return s, next
		}
		in := s.c.sum.Inputs
		in.CertSource = CertCloudflare
		return s, s.run.start(&in, Secrets{})
	}
	return s, nil
}

// submit says what to record; the passphrase goes to the flow once and
// the screen forgets it.
func (s *certificateScreen) submit() (Inputs, Secrets) {
	a := s.ans
	in := s.c.sum.Inputs
	in.CertSource = a.source
	in.ImportCert, in.ImportKey, in.ImportCA = strings.TrimSpace(a.importCert), strings.TrimSpace(a.importKey), strings.TrimSpace(a.importCA)
	in.ReuseCert = strings.TrimSpace(a.reuse)
	in.NoPassphrase = a.source == CertGenerate && a.pass == ""
	sec := Secrets{Passphrase: []byte(a.pass)}
	a.pass, a.pass2 = "", ""
	return in, sec
}

func (s *certificateScreen) View() string {
	st := s.c.st
	var b strings.Builder
	b.WriteString(s.head())
	switch {
	case s.run.running:
		label := "preparing the certificate"
		if s.ans.source == CertGenerate && !s.global {
			label = "generating keys (RSA-4096 takes a few seconds)"
		}
		b.WriteString(s.run.view(label))
	case s.done:
		b.WriteString(st.OK.Render("✓ certificate ready") + "\n\n")
		b.WriteString(certCard(st, s.c.sum.Cert, s.w))
	case s.global:
		b.WriteString("Global mode uses Cloudflare's shared certificate: nothing to generate or upload.\n")
		b.WriteString(st.Warn.Render("!") + " Any Cloudflare zone, not only yours, can present it to your origin.\n\n")
		b.WriteString("Press " + st.Key.Render("enter") + " to use it.\n")
	default:
		b.WriteString(s.form.View())
	}
	return b.String()
}

// certCard is the review card of a certificate.
func certCard(st *Styles, c *Cert, w int) string {
	if c == nil {
		return st.Subtle.Render("(no certificate details)") + "\n"
	}
	card := st.Card.Width(min(w, 80))
	return card.Render(strings.TrimRight(certRows(st, c, card.GetWidth()-card.GetHorizontalFrameSize()), "\n")) + "\n"
}

// certRows are the card's lines, w cells wide (0: one line each): label
// and value, the empty ones left out. A fingerprint too long for a line
// breaks between bytes, so no byte is split.
func certRows(st *Styles, c *Cert, w int) string {
	const labelW = 12
	row := func(label, v string) string {
		if v == "" {
			return ""
		}
		var parts []string
		if room := w - labelW; w > 0 && len(v) > room && strings.Count(v, ":") > 1 {
			per := max((room+1)/3, 1) // "AB:" per byte
			bytes := strings.Split(v, ":")
			for len(bytes) > per {
				parts = append(parts, strings.Join(bytes[:per], ":")+":")
				bytes = bytes[per:]
			}
			v = strings.Join(bytes, ":")
		}
		parts = append(parts, v)
		return st.Label.Render(fmt.Sprintf("%-*s", labelW, label)) + strings.Join(parts, "\n"+strings.Repeat(" ", labelW)) + "\n"
	}
	validity := ""
	if !c.NotAfter.IsZero() {
		validity = fmt.Sprintf("%s to %s", c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
	}
	return row("Subject", c.Subject) + row("Issuer", c.Issuer) + row("Serial", c.Serial) +
		row("Valid", validity) + row("SHA-256", c.Fingerprint) + row("Cloudflare", c.ID) + row("Status", c.Status)
}
