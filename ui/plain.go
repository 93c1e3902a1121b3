package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/pki"
)

// RunPlain runs the wizard as plain line prompts and progress lines, for
// screen readers and dumb terminals (the accessible mode): one question a
// line, each answer a line of in, every event of a step a line of out. It
// drives the same Flow as Run and returns the same errors. One reader serves
// every prompt, so answers piped in one go all arrive.
func RunPlain(ctx context.Context, flow Flow, opts Options, in io.Reader, out io.Writer) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &plain{ctx: ctx, flow: flow, opts: opts, in: bufio.NewReader(in), rawIn: in, out: out, st: newStyles(true), token: opts.Token}
	err := p.run()
	if errors.Is(err, errQuit) {
		if serr := flow.Save(context.WithoutCancel(ctx)); serr != nil {
			return fmt.Errorf("stopped, and could not save the rollout: %w", serr)
		}
		return err
	}
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		if serr := flow.Save(context.WithoutCancel(ctx)); serr != nil {
			return errors.Join(ErrInterrupted, fmt.Errorf("could not save the rollout: %w", serr))
		}
		return ErrInterrupted
	}
	return err
}

type plain struct {
	ctx   context.Context
	flow  Flow
	opts  Options
	in    *bufio.Reader
	rawIn io.Reader
	mu    sync.Mutex
	out   io.Writer
	st    *Styles
	sum   Summary
	token string
	// found are the sites read of each server (nil: none).
	found map[string]*sites.Config
}

// errQuit is the operator answering no to go on.
var errQuit = errors.New("stopped: the rollout is saved; run aopwizard again to resume")

// say prints lines as plain text: the shared renderers style their output,
// a screen reader wants none of it.
func (p *plain) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, ansi.Strip(fmt.Sprintf(format, args...)))
}

// ask prints question and reads one line; def answers an empty line.
func (p *plain) ask(question, def string) (string, error) {
	if def != "" {
		question += " [" + def + "]"
	}
	p.mu.Lock()
	fmt.Fprint(p.out, question+": ")
	p.mu.Unlock()
	line, err := p.in.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		return "", fmt.Errorf("no answer to %q: the input ended", question)
	}
	if line = strings.TrimSpace(line); line == "" {
		return def, nil
	}
	return line, nil
}

// askValid asks until check accepts the answer.
func (p *plain) askValid(question, def string, check func(string) error) (string, error) {
	for {
		a, err := p.ask(question, def)
		if err != nil {
			return "", err
		}
		if err := check(a); err != nil {
			p.say("  %v", err)
			continue
		}
		return a, nil
	}
}

// askSecret reads a line without echo; it needs a terminal.
func (p *plain) askSecret(question string) (string, error) {
	read := readHidden
	if read == nil {
		f, ok := p.rawIn.(*os.File)
		if !ok || !term.IsTerminal(f.Fd()) {
			return "", fmt.Errorf("%s is typed hidden, which needs a terminal", strings.ToLower(question))
		}
		read = func() ([]byte, error) { return term.ReadPassword(f.Fd()) }
	}
	p.say("%s (hidden):", question)
	b, err := read()
	return string(b), err
}

// readHidden, set by tests only, stands for the terminal a hidden answer
// is typed on.
var readHidden func() ([]byte, error)

func (p *plain) yes(question string, def bool) (bool, error) {
	d := "y/N"
	if def {
		d = "Y/n"
	}
	a, err := p.ask(question+" ("+d+")", "")
	if err != nil || a == "" {
		return def, err
	}
	return strings.HasPrefix(strings.ToLower(a), "y"), nil
}

func (p *plain) run() error {
	if err := p.begin(); err != nil {
		return err
	}
	for {
		step := p.sum.Current()
		if step == "" {
			p.finish()
			return nil
		}
		for i, s := range p.sum.Steps {
			if s.Name == step {
				p.say("\nStep %d of %d: %s", i+1, len(p.sum.Steps), stepTitle(step))
			}
		}
		if err := p.step(step); err != nil {
			return err
		}
	}
}

// begin resumes an unfinished rollout or starts a new one.
func (p *plain) begin() error {
	list, err := p.flow.Rollouts(p.ctx)
	if err != nil {
		p.say("Could not list earlier rollouts: %v", err)
	}
	choice := 0
	if len(list) > 0 {
		p.say("Unfinished rollouts:")
		now := p.opts.Now()
		for i, r := range list {
			p.say("  %d) %s, %s mode, at %s, %s", i+1, r.Inputs.Zone, orDash(r.Inputs.Mode), reached(&r), age(now.Sub(r.Updated)))
		}
		p.say("  0) start a new rollout")
		a, err := p.askValid("Choose", "1", func(a string) error {
			n, err := strconv.Atoi(a)
			if err != nil || n < 0 || n > len(list) {
				return fmt.Errorf("choose a number from 0 to %d", len(list))
			}
			return nil
		})
		if err != nil {
			return err
		}
		choice, _ = strconv.Atoi(a)
	}
	if choice > 0 {
		p.sum, err = p.flow.Resume(p.ctx, list[choice-1].ID)
	} else {
		p.sum, err = p.flow.Start(p.ctx)
	}
	return err
}

// step asks what step needs and runs it, until it is done or the operator
// quits.
func (p *plain) step(step string) error {
	in, sec, err := p.questions(step)
	if err != nil {
		return err
	}
	for {
		err := p.runStep(step, in, sec)
		if err == nil {
			return p.result(step)
		}
		if errors.Is(err, context.Canceled) {
			return err
		}
		p.say("✗ %s failed: %v", stepTitle(step), err)
		if r := remedyOf(&p.sum, step, err); r != "" {
			p.say("What to do: %s", r)
		}
		if (step == StepVerify || step == StepEnforce) && len(p.sum.Matrix) > 0 {
			p.say("%s", strings.TrimRight(matrixView(p.st, p.sum.Matrix, 0), "\n"))
		}
		again, aerr := p.yes("Retry", true)
		if aerr != nil {
			return errors.Join(aerr, err)
		}
		if !again {
			return err
		}
		// The answers may be the cause: ask again, with them as defaults
		// (secrets are asked anew).
		if in, sec, err = p.questions(step); err != nil {
			return err
		}
	}
}

// runStep records in (when not nil) and runs step, printing its events.
func (p *plain) runStep(step string, in *Inputs, sec Secrets) error {
	if in != nil {
		sum, err := p.flow.SetInputs(p.ctx, *in, sec)
		if err != nil {
			return err
		}
		p.sum = sum
	}
	start := p.opts.Now()
	sum, err := p.flow.RunStep(p.ctx, step, func(ev Event) { p.say("  · %s", ev.Message) })
	if sum.ID != "" {
		p.sum = sum
	}
	switch st := p.sum.Step(step); {
	case err != nil:
	case st != nil && st.Status == StatusSkipped:
		p.say("– %s skipped", stepTitle(step))
	default:
		p.say("✓ %s done (%s)", stepTitle(step), p.opts.Now().Sub(start).Truncate(time.Second))
	}
	return err
}

// questions asks the step's questions; nil Inputs means nothing to record.
func (p *plain) questions(step string) (*Inputs, Secrets, error) {
	in := p.sum.Inputs
	switch step {
	case StepConnect:
		if p.token == "" {
			t, err := p.askSecret("Cloudflare API token")
			if err != nil {
				return nil, Secrets{}, fmt.Errorf("%w; or set CLOUDFLARE_API_TOKEN", err)
			}
			p.token = strings.TrimSpace(t)
		}
		z, err := p.askValid("Zone (the domain, e.g. example.com)", in.Zone, func(z string) error { return pki.ValidateDomain(z) })
		if err != nil {
			return nil, Secrets{}, err
		}
		in.Zone = pki.NormalizeName(z)
		return &in, Secrets{Token: p.token}, nil
	case StepPlan:
		return p.planQuestions(in)
	case StepCertificate:
		return p.certQuestions(in)
	case StepUpload:
		p.cert()
		return nil, Secrets{}, p.confirm("Upload this certificate to Cloudflare")
	case StepOrigin:
		o := p.sum.Origin
		p.say("The %s config for %s (soft phase: asks for Cloudflare's certificate, still serves without one):\n%s", orDash(o.Server), orDash(o.Path), o.Config)
		a, err := p.askValid("Apply it for you (a), or will you do it (m)", "a", func(a string) error {
			if a != "a" && a != "m" {
				return errors.New("answer a or m")
			}
			return nil
		})
		if err != nil {
			return nil, Secrets{}, err
		}
		in.OriginConfig = map[string]string{"a": OriginApply, "m": OriginManual}[a]
		asked, err := p.serverCertQuestions(&in, false)
		if err != nil {
			return nil, Secrets{}, err
		}
		if asked && in.OriginConfig == OriginManual {
			// The config shown above had no certificate to serve.
			if p.sum, err = p.flow.SetInputs(p.ctx, in, Secrets{}); err != nil {
				return nil, Secrets{}, err
			}
			p.say("The %s config with the origin's certificate:\n%s", orDash(p.sum.Origin.Server), p.sum.Origin.Config)
		}
		if in.OriginConfig == OriginManual {
			p.say("Write the config, test it and reload the server; the wizard waits for the origin.")
		}
		return &in, Secrets{}, nil
	case StepEnable:
		return nil, Secrets{}, p.confirm("Enable Authenticated Origin Pulls at Cloudflare (the origin is in soft mode, nothing is refused yet)")
	case StepEnforce:
		p.say("From now on the origin refuses every TLS client without Cloudflare's certificate.")
		for _, l := range p.sum.Impact {
			p.say("  - %s", l)
		}
		a, err := p.ask("Type yes to enforce, anything else stays in soft mode", "")
		if err != nil {
			return nil, Secrets{}, err
		}
		in.Enforce = a == "yes"
		return &in, Secrets{}, nil
	}
	return nil, Secrets{}, nil
}

// confirm asks a yes/no question whose no stops the wizard (resumable).
func (p *plain) confirm(question string) error {
	ok, err := p.yes(question, true)
	if err == nil && !ok {
		err = errQuit
	}
	return err
}

func (p *plain) planQuestions(in Inputs) (*Inputs, Secrets, error) {
	p.say("Modes:\n  zone: your own CA, every hostname of the zone\n  hostname: your own CA, only the hostnames you list\n  global: Cloudflare's shared certificate (any Cloudflare zone passes)")
	mode, err := p.askValid("Mode", orDefault(in.Mode, ModeZone), func(m string) error {
		if m != ModeZone && m != ModeHostname && m != ModeGlobal {
			return errors.New("answer zone, hostname or global")
		}
		return nil
	})
	if err != nil {
		return nil, Secrets{}, err
	}
	in.Mode = mode
	hosts, err := p.askValid("Hostnames, separated by commas", strings.Join(in.Hostnames, ","), func(h string) error { return checkHostnames(h, in.Zone, mode) })
	if err != nil {
		return nil, Secrets{}, err
	}
	in.Hostnames, _ = parseHostnames(hosts, in.Zone)
	if in.Server, err = p.ask(serversQuestion(), orDefault(in.Server, orDefault(p.opts.Server, "nginx"))); err != nil {
		return nil, Secrets{}, err
	}
	origins, err := p.askValid("Origin addresses, IP[:port], separated by commas", strings.Join(in.Origins, ","), func(o string) error {
		_, err := parseOrigins(o)
		return err
	})
	if err != nil {
		return nil, Secrets{}, err
	}
	in.Origins, _ = parseOrigins(origins)
	if _, err := p.serverCertQuestions(&in, true); err != nil {
		return nil, Secrets{}, err
	}
	if mode != ModeGlobal {
		if in.AlertsEmail, err = p.ask("Expiry alert email (empty for none)", in.AlertsEmail); err != nil {
			return nil, Secrets{}, err
		}
	}
	return &in, Secrets{}, nil
}

func (p *plain) certQuestions(in Inputs) (*Inputs, Secrets, error) {
	if in.Mode == ModeGlobal {
		in.CertSource = CertCloudflare
		return &in, Secrets{}, nil
	}
	src, err := p.askValid("Client certificate: generate, import or reuse", orDefault(in.CertSource, CertGenerate), func(s string) error {
		if s != CertGenerate && s != CertImport && s != CertReuse {
			return errors.New("answer generate, import or reuse")
		}
		return nil
	})
	if err != nil {
		return nil, Secrets{}, err
	}
	in.CertSource = src
	var sec Secrets
	switch src {
	case CertGenerate:
		noPass, err := p.yes("Store the CA key without a passphrase", in.NoPassphrase)
		if err != nil {
			return nil, Secrets{}, err
		}
		in.NoPassphrase = noPass
		for !noPass {
			a, err := p.askSecret("CA key passphrase")
			if err != nil {
				return nil, Secrets{}, err
			}
			if a == "" {
				p.say("  a passphrase is needed to encrypt the CA key (or answer yes to storing it without one)")
				continue
			}
			b, err := p.askSecret("Passphrase again")
			if err != nil {
				return nil, Secrets{}, err
			}
			if a == b {
				sec.Passphrase = []byte(a)
				break
			}
			p.say("  the two passphrases differ")
		}
	case CertImport:
		for _, q := range []struct {
			label string
			dst   *string
		}{{"Certificate file (PEM)", &in.ImportCert}, {"Key file (PEM)", &in.ImportKey}, {"CA file (PEM, empty for none)", &in.ImportCA}} {
			if *q.dst, err = p.ask(q.label, *q.dst); err != nil {
				return nil, Secrets{}, err
			}
		}
	case CertReuse:
		if in.ReuseCert, err = p.ask("Certificate id or SHA-256 fingerprint", in.ReuseCert); err != nil {
			return nil, Secrets{}, err
		}
	}
	return &in, sec, nil
}

// result prints what a step found out.
func (p *plain) result(step string) error {
	s := &p.sum
	switch step {
	case StepConnect:
		p.say("SSL/TLS mode: %s", orDash(s.SSLMode))
		if s.SSLFix != "" {
			p.say("%s", s.SSLFix)
			// Under Off or Flexible AOP cannot work; Full only leaves the
			// origin's certificate unchecked, so the switch is not the default.
			fix, err := p.yes("Set it to Full (strict) now", s.SSLMode != cfapi.SSLFull)
			if err != nil || !fix {
				return err
			}
			in := s.Inputs
			in.SetSSLStrict = true
			if err := p.runStep(step, &in, Secrets{Token: p.token}); err != nil {
				return err
			}
			p.say("SSL/TLS mode: %s", orDash(p.sum.SSLMode))
		}
	case StepPlan:
		p.say("Nothing has changed yet. This is what the rollout will do:")
		for _, l := range s.Plan {
			p.say("  %s", l)
		}
		return p.confirm("Go ahead")
	case StepCertificate, StepUpload:
		p.cert()
	case StepVerify, StepEnforce:
		if st := s.Step(step); st != nil && st.Status == StatusSkipped {
			p.say("The origin stays in the soft phase: nothing is refused yet.")
			return nil
		}
		p.say("%s", strings.TrimRight(matrixView(p.st, s.Matrix, 0), "\n"))
		for _, e := range s.Evidence {
			p.say("  %s", e)
		}
	}
	return nil
}

// cert prints the certificate's card as plain lines (no box to read out).
func (p *plain) cert() {
	if p.sum.Cert != nil {
		p.say("%s", strings.TrimRight(certRows(p.st, p.sum.Cert, 0), "\n"))
	}
}

func (p *plain) finish() {
	s := &p.sum
	p.say("\n✓ Authenticated Origin Pulls is set up for %s", s.Inputs.Zone)
	if s.Outcome != "" {
		p.say("%s", s.Outcome)
	}
	if s.Report != "" {
		p.say("Report: %s", s.Report)
	}
	p.say("Next:")
	for _, l := range nextCommands(p.opts.Demo) {
		p.say("  %s: %s", l[0], l[1])
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// serversQuestion asks for the origin server among the plan's.
func serversQuestion() string {
	names := make([]string, len(originServers))
	for i, sv := range originServers {
		names[i] = string(sv)
	}
	return "Origin server (" + strings.Join(names, ", ") + ")"
}
