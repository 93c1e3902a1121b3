package ui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/steps"
)

// The origin's own TLS certificate: asked for where the origin config may
// be aopwizard's own server block, which serves it (steps decides when:
// steps.Inputs.ServerCertQuestion), and offered from the site that already
// serves the hostnames when the server on this machine has one.

// sitesMsg brings the TLS sites of a server on this machine (nil when
// they could not be read: then nothing is offered).
type sitesMsg struct {
	server string
	cfg    *sites.Config
}

// readSites reads the sites of in's server once, through the flow.
func readSites(c *common, in Inputs) tea.Cmd {
	sr, ok := c.flow.(SiteReader)
	if !ok || in.Server == "" {
		return nil
	}
	if _, done := c.sites[in.Server]; done {
		return nil
	}
	if c.sites == nil {
		c.sites = map[string]*sites.Config{}
	}
	c.sites[in.Server] = nil
	ctx := c.ctx
	return func() tea.Msg {
		cfg, err := sr.OriginSites(ctx, in)
		if err != nil {
			cfg = nil
		}
		return sitesMsg{server: in.Server, cfg: cfg}
	}
}

// serverCertQuestion is what the rollout of in needs of the origin's own
// certificate, given the sites of its server found on this machine (nil:
// none read).
func serverCertQuestion(found *sites.Config, in Inputs) steps.ServerCertQuestion {
	si := mergeInputs(steps.Inputs{}, in)
	si.Origin.Target = in.Target
	return si.ServerCertQuestion(found)
}

// needsCertAnswer: the rollout needs a file that is not known yet.
func needsCertAnswer(q steps.ServerCertQuestion, in Inputs) bool {
	return q.Cert && in.ServerCert == "" || q.Key && in.ServerKey == ""
}

// checkCertFile checks the answer to the certificate question for server.
func checkCertFile(server string) func(string) error {
	return func(v string) error {
		if v = strings.TrimSpace(v); v == "" {
			return errors.New("the origin's certificate is required here: give the full path of the PEM file the origin serves for the hostnames")
		}
		return steps.CheckServerCert(render.Server(server), v)
	}
}

// checkKeyFile checks the answer to the key question, against the
// certificate given.
func checkKeyFile(cert func() string) func(string) error {
	return func(v string) error {
		if v = strings.TrimSpace(v); v == "" {
			return errors.New("the key of the origin's certificate is required here: give the full path of its PEM file")
		}
		return steps.CheckServerKey(v, strings.TrimSpace(cert()))
	}
}

// OriginSites reads the TLS sites of in's server on this machine, with
// the layout run's flags give. The demo's world is not this machine's:
// it reads none.
func (f *StepsFlow) OriginSites(ctx context.Context, in Inputs) (*sites.Config, error) {
	if f.o.NewEnv != nil || !editableServer(in.Server) {
		return nil, nil
	}
	f.mu.Lock()
	base := f.draft
	if f.h != nil {
		base = f.h.R.Inputs
	}
	f.mu.Unlock()
	return steps.FindSites(ctx, mergeInputs(base, in), f.o.Env.Runner)
}

func editableServer(s string) bool {
	switch render.Server(s) {
	case render.Nginx, render.Apache, render.HAProxy:
		return true
	}
	return false
}

// serverCertFields are the certificate and key questions. in says the
// inputs as answered so far; the key field is skipped where the server
// takes the key from the certificate's file (HAProxy).
type serverCertFields struct {
	cert, key *inputField
	found     *steps.FoundServerCert
}

func newServerCertFields(st *Styles, in func() Inputs, q func() steps.ServerCertQuestion, cert, key *string) *serverCertFields {
	f := &serverCertFields{}
	f.cert = newInput(st).Title("Origin TLS certificate (PEM file)").
		DescriptionFunc(func() string {
			if in().Server == string(render.HAProxy) {
				return "aopwizard's server block presents it to Cloudflare: one PEM with the key, as HAProxy takes it."
			}
			return "aopwizard's server block presents it to Cloudflare."
		}).
		Placeholder("/etc/ssl/certs/origin.pem").Value(cert).
		Note(f.note(func(found *steps.FoundServerCert) string { return found.Cert })).
		Validate(func(v string) error { return checkCertFile(in().Server)(v) })
	f.key = newInput(st).Title("Origin TLS key (PEM file)").
		Placeholder("/etc/ssl/private/origin.key").Value(key).
		Note(f.note(func(found *steps.FoundServerCert) string { return found.Key })).
		Validate(checkKeyFile(func() string { return *cert })).
		SkipWhen(func() bool { return !q().Key })
	return f
}

// note says where a suggested path was found, while it is the field's.
func (f *serverCertFields) note(path func(*steps.FoundServerCert) string) func(string) string {
	return func(v string) string {
		if f.found != nil && v == path(f.found) {
			return f.found.From()
		}
		return ""
	}
}

// suggest offers the known files (run's, or an earlier answer) or else the
// detected site's, in fields the operator has not typed in.
func (f *serverCertFields) suggest(in Inputs, q steps.ServerCertQuestion) {
	f.found = q.Found
	cert, key := in.ServerCert, in.ServerKey
	if cert == "" && q.Found != nil {
		cert, key = q.Found.Cert, q.Found.Key
	}
	f.cert.suggest(cert)
	f.key.suggest(key)
}

// answer puts the fields' paths, made absolute, into in where the rollout
// needs them.
func serverCertAnswer(in *Inputs, q steps.ServerCertQuestion, cert, key string) {
	abs := func(p string) string {
		p = strings.TrimSpace(p)
		if a, err := filepath.Abs(p); err == nil && p != "" {
			return a
		}
		return p
	}
	if q.Cert {
		in.ServerCert = abs(cert)
	}
	if q.Key {
		in.ServerKey = abs(key)
	}
}

// serverCertQuestions asks the accessible mode's certificate questions
// where the rollout of in needs them: always (the plan, known files
// offered), or only when a file is not known yet (the origin's mode).
// asked says whether it asked.
func (p *plain) serverCertQuestions(in *Inputs, always bool) (asked bool, err error) {
	q := serverCertQuestion(p.sites(*in), *in)
	if !q.Cert || !always && !needsCertAnswer(q, *in) {
		return false, nil
	}
	cert, key := in.ServerCert, in.ServerKey
	if cert == "" && q.Found != nil {
		cert, key = q.Found.Cert, q.Found.Key
		p.say("Origin TLS certificate and key %s.", q.Found.From())
	}
	p.say("The %s config is aopwizard's own server block, which presents the origin's own certificate to Cloudflare.", in.Server)
	if cert, err = p.askValid("Origin TLS certificate (PEM file)", cert, checkCertFile(in.Server)); err != nil {
		return true, err
	}
	if q.Key {
		if key, err = p.askValid("Origin TLS key (PEM file)", key, checkKeyFile(func() string { return cert })); err != nil {
			return true, err
		}
	}
	serverCertAnswer(in, q, cert, key)
	return true, nil
}

// sites reads the sites of in's server once (the accessible mode waits
// for them: it has nothing else to show meanwhile).
func (p *plain) sites(in Inputs) *sites.Config {
	if cfg, ok := p.found[in.Server]; ok {
		return cfg
	}
	var cfg *sites.Config
	if sr, ok := p.flow.(SiteReader); ok && in.Server != "" {
		cfg, _ = sr.OriginSites(p.ctx, in)
	}
	if p.found == nil {
		p.found = map[string]*sites.Config{}
	}
	p.found[in.Server] = cfg
	return cfg
}
