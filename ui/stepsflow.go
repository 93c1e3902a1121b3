package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/steps"
)

// StepsFlowOptions wire the wizard to the rollout steps.
type StepsFlowOptions struct {
	// StateDir holds the rollouts (steps.Store), checkpoints and reports.
	StateDir string
	// Env is the world the steps run against (steps.NewEnv). The token
	// the operator types on the connect screen replaces Env.Config's.
	Env steps.EnvOptions
	// Defaults are the inputs the screens do not ask for: the origin's own
	// certificate, its files and commands, the edge, the key type. `run`
	// passes its flags; the demo its world's inputs.
	Defaults steps.Inputs
	// NewEnv, when set, replaces steps.NewEnv (the demo wires its own
	// world); emit receives the steps' events.
	NewEnv func(ctx context.Context, r *steps.Rollout, emit func(steps.Event)) (*steps.Env, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// sslFullAdvice is the connect screen's fix for a zone at Full: AOP works,
// but Full (strict) is recommended (docs/cloudflare-api.md "SSL mode").
const sslFullAdvice = "AOP works under Full, but Cloudflare does not check the origin's certificate, so Full (strict) is recommended. " +
	"Make sure first that the origin serves HTTPS with a valid certificate for the zone's hostnames (publicly trusted, or from Cloudflare's Origin CA)."

// manualWait is how long manual origin mode waits for the operator's
// change when the inputs do not say.
const manualWait = 30 * time.Minute

// StepsFlow is the Flow of the real rollout: the state file and its lock
// (steps.Store), one steps.Machine run per step, the Env from
// StepsFlowOptions. The token and the passphrase stay in memory.
type StepsFlow struct {
	o StepsFlowOptions
	// mu is held while a step runs: a Save (Ctrl-C) waits for the machine,
	// which saves the rollout itself when its context ends.
	mu    sync.Mutex
	h     *steps.Handle
	draft steps.Inputs
	token string
	pass  []byte
}

var _ Flow = (*StepsFlow)(nil)

// NewStepsFlow returns the Flow over the rollouts in o.StateDir. Close
// releases the current rollout's lock.
func NewStepsFlow(o StepsFlowOptions) *StepsFlow {
	return &StepsFlow{o: o, draft: o.Defaults, token: o.Env.Config.Token}
}

func (f *StepsFlow) now() time.Time {
	if f.o.Now != nil {
		return f.o.Now().UTC()
	}
	return time.Now().UTC()
}

func (f *StepsFlow) store() steps.Store { return steps.Store{Dir: f.o.StateDir} }

// Close releases the current rollout.
func (f *StepsFlow) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.release()
}

func (f *StepsFlow) release() {
	if f.h != nil {
		f.h.Close()
		f.h = nil
	}
}

// Current is the rollout the wizard drove last (nil before one was
// created or resumed); read it once the wizard has ended.
func (f *StepsFlow) Current() *steps.Rollout {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil
	}
	return f.h.R
}

// Rollouts lists the unfinished rollouts no other run holds, newest first.
func (f *StepsFlow) Rollouts(context.Context) ([]Summary, error) {
	all, err := f.store().List()
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	cur := ""
	if f.h != nil {
		cur = f.h.R.ID
	}
	f.mu.Unlock()
	var out []Summary
	for _, e := range all {
		r := e.Rollout
		if r == nil || !r.Open() || (r.ID != cur && f.store().Busy(r.ID)) {
			continue
		}
		out = append(out, toSummary(r))
	}
	return out, nil
}

// Resume locks rollout id and makes it the current one. What its earlier
// run did is checked in the world when the next step runs (the machine
// re-verifies every step before the one it runs).
func (f *StepsFlow) Resume(_ context.Context, id string) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h != nil && f.h.R.ID == id {
		return toSummary(f.h.R), nil
	}
	f.release()
	h, err := f.store().Open(id)
	if err != nil {
		return Summary{}, err
	}
	f.h = h
	return toSummary(h.R), nil
}

// Start begins a new rollout from the defaults; the state file is written
// at the first SetInputs that names the zone.
func (f *StepsFlow) Start(context.Context) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.release()
	f.draft = f.o.Defaults
	f.draft.Hostnames = append([]string(nil), f.draft.Hostnames...)
	f.draft.Origins = append([]string(nil), f.draft.Origins...)
	r := steps.NewRollout("", f.draft, f.now())
	return toSummary(r), nil
}

// SetInputs records the answers in the current rollout (creating it at the
// first zone) and keeps the secrets in memory.
func (f *StepsFlow) SetInputs(_ context.Context, in Inputs, sec Secrets) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := strings.TrimSpace(sec.Token); t != "" {
		f.token = t
	}
	if sec.Passphrase != nil {
		f.pass = append([]byte(nil), sec.Passphrase...)
	}
	if f.h == nil {
		f.draft = mergeInputs(f.draft, in)
		r := steps.NewRollout("", f.draft, f.now())
		if f.draft.Zone == "" {
			return toSummary(r), nil
		}
		now := f.now()
		r.ID = steps.NewID(f.draft.Zone, now)
		if r.Inputs.CertDir == "" {
			r.Inputs.CertDir = filepath.Join(f.o.StateDir, "certs", r.ID)
		}
		h, err := f.store().Create(r)
		if err != nil {
			return toSummary(r), err
		}
		f.h = h
		return toSummary(r), nil
	}
	r := f.h.R
	before := r.Inputs
	r.Inputs = mergeInputs(r.Inputs, in)
	if err := replan(r, before); err != nil {
		r.Inputs = before
		return toSummary(r), err
	}
	r.Relayout()
	r.Updated = f.now()
	return toSummary(r), f.h.Save()
}

// mergeInputs puts the screens' answers over the inputs they do not show.
func mergeInputs(base steps.Inputs, in Inputs) steps.Inputs {
	base.Zone, base.Mode, base.Server = in.Zone, steps.Mode(in.Mode), in.Server
	base.Hostnames = append([]string(nil), in.Hostnames...)
	base.Origins = append([]string(nil), in.Origins...)
	if in.OriginConfig != "" {
		base.OriginConfig = in.OriginConfig
	}
	if base.OriginConfig == steps.OriginManual && base.WaitOrigin <= 0 {
		base.WaitOrigin = manualWait
	}
	base.CertSource, base.ImportCert, base.ImportKey, base.ImportCA, base.ReuseCert = in.CertSource, in.ImportCert, in.ImportKey, in.ImportCA, in.ReuseCert
	base.NoPassphrase, base.SetSSLStrict, base.Enforce, base.AlertsEmail = in.NoPassphrase, in.SetSSLStrict, in.Enforce, in.AlertsEmail
	// run's --cert and --key stand until the operator gives other files.
	if in.ServerCert != "" {
		base.Origin.ServerCert = in.ServerCert
	}
	if in.ServerKey != "" {
		base.Origin.ServerKey = in.ServerKey
	}
	if !base.Enforce {
		base.AutoRevert = false
	}
	return base
}

// replan makes an answer changed on an earlier screen (the operator went
// back) count: a new zone is connected again, and a new mode, hostnames or
// certificate source planned again. Once a certificate exists for the
// earlier answers, changing them is refused: that rollout is not this one.
func replan(r *steps.Rollout, before steps.Inputs) error {
	in := r.Inputs
	if in.SetSSLStrict {
		r.ConsentSSLStrict()
	}
	zone := in.Zone != before.Zone
	plan := zone || in.Mode != before.Mode || !slices.Equal(in.Hostnames, before.Hostnames) ||
		(in.CertSource != before.CertSource && before.CertSource != "") || in.ImportCert != before.ImportCert ||
		in.ImportKey != before.ImportKey || in.ImportCA != before.ImportCA || in.ReuseCert != before.ReuseCert
	if !plan {
		return nil
	}
	if zone && r.Changes.SSLModeSet {
		return fmt.Errorf("rollout %s switched zone %s to Full (strict): start a new rollout for zone %s (rollback undoes the switch)", r.ID, before.Zone, in.Zone)
	}
	for _, st := range r.Steps {
		if st.Name != steps.StepConnect && st.Name != steps.StepPlan && st.Status != steps.StatusPending {
			return fmt.Errorf("rollout %s already has its %s step under way for zone %s, %s mode: start a new rollout to change the zone, the mode, the hostnames or the certificate",
				r.ID, st.Name, before.Zone, orDash(string(before.Mode)))
		}
	}
	r.Certificates = nil
	for i := range r.Steps {
		if r.Steps[i].Name == steps.StepPlan || zone && r.Steps[i].Name == steps.StepConnect {
			r.Steps[i] = steps.StepState{Name: r.Steps[i].Name, Status: steps.StatusPending}
		}
	}
	if zone {
		r.Zone, r.Changes = steps.ZoneInfo{Name: in.Zone}, steps.Changes{}
	}
	return nil
}

// RunStep runs the machine up to step (re-checking the steps before it)
// and saves after every transition. Declining enforce (Inputs.Enforce
// false) ends the enforce step skipped: the rollout stays in the soft
// phase.
func (f *StepsFlow) RunStep(ctx context.Context, step string, emit func(Event)) (Summary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return Summary{}, errors.New("no rollout is open: start one or resume one first")
	}
	r := f.h.R
	name := steps.StepName(step)
	if r.Step(name) == nil {
		return toSummary(r), fmt.Errorf("rollout %s has no step %s", r.ID, step)
	}
	pass := func(ev steps.Event) {
		if emit != nil {
			emit(toEvent(ev))
		}
	}
	env, err := f.env(ctx, r, pass)
	if err != nil {
		return toSummary(r), err
	}
	env.Secrets.CAPassphrase = f.pass
	env.Now = f.o.Now
	m := &steps.Machine{Env: env, Saver: f.h, StopAfter: name}
	out, err := m.Run(ctx)
	if err == nil && name == steps.StepEnforce && out.Waiting == steps.StepEnforce && !r.Inputs.Enforce {
		st := r.Step(name)
		now := f.now()
		st.Status, st.Finished = steps.StatusSkipped, &now
		pass(steps.Event{Time: now, Rollout: r.ID, Step: name, Status: steps.StatusSkipped, Message: "not enforced: the origin stays in the soft phase"})
		err = f.h.Save()
	}
	sum := toSummary(r)
	if err != nil && name == steps.StepConnect && steps.FieldOf(err) == "set ssl mode" {
		// A zone at Off or Flexible is common: the connect screen offers
		// the switch (with the operator's consent) instead of a failure.
		// The state keeps connect failed, so nothing goes on before it.
		sum.Step(step).Status, sum.Step(step).Error, sum.Step(step).Remedy = StatusDone, "", ""
		sum.SSLFix = "Cloudflare presents no client certificate under " + r.Zone.SSLMode + ", so AOP cannot work. " +
			"Switch the zone to Full (strict); make sure first that the origin serves HTTPS with a certificate for the zone's hostnames."
		return sum, nil
	}
	if err == nil && name == steps.StepConnect && r.Zone.SSLMode == cfapi.SSLFull {
		sum.SSLFix = sslFullAdvice
	}
	return sum, err
}

func (f *StepsFlow) env(ctx context.Context, r *steps.Rollout, emit func(steps.Event)) (*steps.Env, error) {
	if f.o.NewEnv != nil {
		return f.o.NewEnv(ctx, r, emit)
	}
	o := f.o.Env
	o.Config.Token = f.token
	if f.token == "" && o.Config.Scheme() == cfapi.AuthNone {
		return nil, remedyError{err: errors.New("no Cloudflare API token: the steps cannot reach Cloudflare"),
			remedy: "set " + cfapi.EnvAPIToken + " and start aopwizard again, or go back to the connect screen and type the token"}
	}
	o.Emit = emit
	return steps.NewEnv(ctx, r, o)
}

// Save writes the current rollout; during a step it waits for the step,
// which saves on its way out.
func (f *StepsFlow) Save(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil
	}
	return f.h.Save()
}

// remedyError is an error that says what to do (the error screen shows it).
type remedyError struct {
	err    error
	remedy string
}

func (e remedyError) Error() string  { return e.err.Error() }
func (e remedyError) Unwrap() error  { return e.err }
func (e remedyError) Remedy() string { return e.remedy }

func toEvent(ev steps.Event) Event {
	var fields map[string]string
	if len(ev.Fields) > 0 {
		fields = make(map[string]string, len(ev.Fields))
		for k, v := range ev.Fields {
			fields[k] = v
		}
	}
	return Event{Time: ev.Time, Step: string(ev.Step), Status: string(ev.Status), Message: ev.Message, Fields: fields}
}

func toInputs(in steps.Inputs) Inputs {
	return Inputs{Zone: in.Zone, Mode: string(in.Mode), Hostnames: append([]string(nil), in.Hostnames...),
		Origins: append([]string(nil), in.Origins...), Server: in.Server, OriginConfig: in.OriginConfig,
		CertSource: in.CertSource, ImportCert: in.ImportCert, ImportKey: in.ImportKey, ImportCA: in.ImportCA,
		ReuseCert: in.ReuseCert, NoPassphrase: in.NoPassphrase, SetSSLStrict: in.SetSSLStrict, Enforce: in.Enforce,
		AlertsEmail: in.AlertsEmail, ServerCert: in.Origin.ServerCert, ServerKey: in.Origin.ServerKey, Target: in.Origin.Target}
}

// waitingFor says in words what a rollout stopped at waits for.
var waitingFor = map[steps.StepName]string{
	steps.StepConnect:     "the API token and the zone",
	steps.StepPlan:        "the plan: mode, hostnames and origin",
	steps.StepCertificate: "the client certificate",
	steps.StepUpload:      "the certificate's upload to Cloudflare",
	steps.StepOriginSoft:  "the origin to present the new configuration",
	steps.StepEnable:      "AOP to be enabled at Cloudflare",
	steps.StepVerify:      "the verification",
	steps.StepEnforce:     "your go-ahead to enforce",
	steps.StepAlerts:      "the expiry alert",
	steps.StepDone:        "the report",
}

// toSummary is the rollout as the screens show it: a copy sharing nothing
// with r.
func toSummary(r *steps.Rollout) Summary {
	s := Summary{ID: r.ID, Inputs: toInputs(r.Inputs), Created: r.Created, Updated: r.Updated,
		SSLMode: r.Zone.SSLMode, Report: r.Report, Outcome: r.Outcome}
	for _, st := range r.Steps {
		s.Steps = append(s.Steps, StepState{Name: string(st.Name), Status: Status(st.Status), Error: st.Error, Remedy: st.Remedy})
	}
	cur := r.Current()
	if st := r.Step(cur); st != nil && st.Status == steps.StatusFailed {
		s.Waiting = "a retry of " + string(cur) + " (it failed)"
	} else {
		s.Waiting = waitingFor[cur]
	}
	if sum := steps.PlanSummary(r); sum != "" {
		// The indentation is kept: it tells headings, items and their
		// continuations apart (planView).
		for _, l := range strings.Split(strings.TrimSpace(sum), "\n") {
			if l = strings.TrimRight(l, " "); l != "" {
				s.Plan = append(s.Plan, l)
			}
		}
	}
	if len(r.Certificates) > 0 {
		s.Cert = certReview(r, r.Certificates[0])
	}
	if path, cfg, cmds, err := steps.OriginPreview(r); err == nil {
		s.Origin = OriginPlan{Server: r.Inputs.Server, Path: path, Config: cfg, Commands: cmds}
	} else {
		s.Origin = OriginPlan{Server: r.Inputs.Server, Config: "the configuration cannot be rendered: " + err.Error()}
	}
	s.Matrix, s.Evidence, s.Impact = lastChecks(r.Events)
	return s
}

// certReview is the review card of a certificate record (nil before the
// certificate step made or found one).
func certReview(r *steps.Rollout, c steps.CertRecord) *Cert {
	if c.Subject == "" && c.ID == "" && c.Fingerprint == "" {
		return nil
	}
	card := &Cert{Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, NotAfter: c.NotAfter, Fingerprint: c.Fingerprint, ID: c.ID}
	if c.CertFile != "" {
		if data, err := os.ReadFile(c.CertFile); err == nil {
			if certs, err := pki.ParseCertificates(data); err == nil && len(certs) > 0 {
				card.NotBefore = certs[0].NotBefore
			}
		}
	}
	if st := r.Step(steps.StepUpload); c.ID != "" && st != nil && st.Status == steps.StatusDone {
		card.Status = "active"
	}
	return card
}

// lastChecks reads the latest enable, verify or enforce runs from the
// events: the matrix cells, the evidence (what enable did, API statuses,
// log counts, the edge proof) and the enforce preview.
func lastChecks(events []steps.Event) (matrix []Check, evidence, impact []string) {
	var enabled, checked []string
	enabling := false
	for _, ev := range events {
		fl := ev.Fields
		switch {
		case ev.Step == steps.StepEnable && ev.Status == steps.StatusRunning:
			enabled, enabling = nil, true
		case ev.Step == steps.StepEnable && (ev.Status == steps.EventInfo || ev.Status == steps.EventWarning):
			if enabling {
				enabled = append(enabled, ev.Message)
			}
		case ev.Step == steps.StepEnable:
			enabling = false
		case ev.Step != steps.StepVerify && ev.Step != steps.StepEnforce:
		case ev.Status == steps.StatusRunning:
			matrix, checked, impact = nil, nil, nil
		case fl["case"] != "":
			matrix = append(matrix, Check{Origin: fl["origin"], Hostname: fl["hostname"], Case: fl["case"],
				Expected: fl["expected"], Observed: fl["observed"], OK: fl["result"] == "ok"})
		case fl["check"] == "impact":
			impact = append(impact, ev.Message)
		case fl["check"] != "":
			checked = append(checked, ev.Message)
		}
	}
	return matrix, append(enabled, checked...), impact
}

// PreviewOrigin implements OriginPreviewer: the soft phase's change on a
// server aopwizard edits, as the origin step will make it (the operator's
// site edited in place, or aopwizard's own block), as a diff; nil for a
// manual config, whose rendered files the summary already holds.
func (f *StepsFlow) PreviewOrigin(ctx context.Context) (*OriginPlan, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil, nil
	}
	r := f.h.R
	env, err := f.env(ctx, r, nil)
	if err != nil {
		return nil, err
	}
	v, err := steps.PreviewOrigin(ctx, env)
	if v == nil || err != nil {
		return nil, err
	}
	return &OriginPlan{Server: r.Inputs.Server, Path: strings.Join(v.Files, ", "), Where: v.Why, Config: v.Diff, Commands: v.Commands, Diff: true}, nil
}
