package steps

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// originSoftStep puts the origin in the soft phase: it trusts the CA and
// logs the verification result but still serves every request. aopwizard
// writes the config (apply) or prints it and watches the origin with probes
// until the operator's own change is live (manual).
type originSoftStep struct{}

func (originSoftStep) Name() StepName { return StepOriginSoft }

func (originSoftStep) Run(ctx context.Context, env *Env) error {
	return setPhase(ctx, env, render.Soft, &env.Rollout.Changes.Soft)
}

// Check: the config is in place and the origin serves it (a written but
// not reloaded config is not done). Once enforce is done its config stands
// for the soft one: checking for the soft config then would undo enforce.
func (originSoftStep) Check(ctx context.Context, env *Env) (bool, error) {
	r := env.Rollout
	if st := r.Step(StepEnforce); st != nil && st.Status == StatusDone {
		return phaseInPlace(ctx, env, render.Enforce, &r.Changes.Enforce)
	}
	return phaseInPlace(ctx, env, render.Soft, &r.Changes.Soft)
}

func (originSoftStep) Undo(ctx context.Context, env *Env) error {
	return undoPhase(ctx, env, &env.Rollout.Changes.Soft)
}

// spec is the origin config of the rollout for phase; made again on every
// run, so files moved or changed since are seen.
func (r *Rollout) spec(phase render.Phase) render.Spec {
	in := r.Inputs
	s := render.Spec{ID: in.Zone, Server: render.Server(in.Server), Phase: phase, Mode: render.Mode(in.Mode),
		Listen: in.Origin.Listen, ServerCertFile: in.Origin.ServerCert, ServerKeyFile: in.Origin.ServerKey,
		Upstream: in.Origin.Upstream, AccessLog: in.Origin.AccessLog, ConfDir: in.Origin.ConfDir}
	if in.Mode == ModeHostname {
		for i, c := range r.Certificates {
			for _, h := range c.Hostnames {
				s.Hosts = append(s.Hosts, render.Host{Name: h, CAFile: r.trustedCA(i)})
			}
		}
		return s
	}
	if len(r.Certificates) > 0 {
		s.CAFile = r.trustedCA(0)
	}
	for _, h := range in.Hostnames {
		s.Hosts = append(s.Hosts, render.Host{Name: h})
	}
	return s
}

// trustedCA is the CA file the origin trusts for certificate i: during a
// rotation to a new CA, first the bundle of both CAs.
func (r *Rollout) trustedCA(i int) string {
	if rot := r.Rotation; rot != nil && rot.Trust == TrustBoth && i < len(rot.Bundles) {
		return rot.Bundles[i]
	}
	return r.Certificates[i].CAFile
}

// setPhase applies phase's config (apply mode) or waits for the operator to
// (manual mode), and records the change.
func setPhase(ctx context.Context, env *Env, phase render.Phase, ch *PhaseChange) error {
	return setPhaseUntil(ctx, env, phase, ch, nil)
}

// liveCheck is a condition the origin must meet besides serving its phase,
// for a change that probing the phase alone cannot see (a rotation's CA
// bundle is served in the same phase as the config before it).
type liveCheck func(ctx context.Context) (bool, string)

// setPhaseUntil is setPhase where, in manual mode, the operator's change
// counts once until holds too (nil: the phase is enough).
func setPhaseUntil(ctx context.Context, env *Env, phase render.Phase, ch *PhaseChange, until liveCheck) error {
	r := env.Rollout
	spec := r.spec(phase)
	if r.Inputs.OriginConfig == OriginApply && env.Origin == nil {
		return errors.New("no origin applier: the rollout applies the origin config but none was given")
	}
	if r.Inputs.OriginConfig == OriginApply {
		if err := chooseTarget(ctx, env, spec); err != nil {
			return err
		}
	}
	// An existing site keeps its own certificate: the in-place plan checks
	// what it needs.
	if r.Inputs.Origin.Target != string(inplace.Existing) {
		if err := spec.Validate(); err != nil {
			return badInput(err, "fix the origin settings")
		}
	}
	if r.Inputs.OriginConfig == OriginManual {
		return waitManual(ctx, env, spec, until)
	}
	// A change started but not recorded (a crash) is applied again: Apply
	// first recovers a checkpoint the crash left in progress.
	lost := ch.Applying && ch.Checkpoint == ""
	cur, err := env.Origin.Current(ctx, spec)
	if err != nil {
		return fail(err, "")
	}
	if cur && !lost {
		if ok, _ := originLive(ctx, env, probe.Phase(phase)); ok {
			r.Changes.Phase = string(phase)
			env.info("the origin already serves the " + string(phase) + " phase config")
			return nil
		}
	}
	ch.Applying = true
	if err := env.checkpoint(); err != nil {
		return err
	}
	env.info("applying the "+string(phase)+" phase config to "+r.Inputs.Server, "phase", string(phase))
	cp, files, err := env.Origin.Apply(ctx, spec)
	if err != nil {
		return fail(fmt.Errorf("apply the %s phase config: %w", phase, err), "the origin was restored; fix the cause shown and resume")
	}
	switch {
	case cp != "":
		ch.Checkpoint = cp
	case lost:
		// Our crashed run finalised the change: its checkpoint is the
		// newest one.
		ch.Checkpoint = RecoveredCheckpoint
	case ch.Checkpoint == "":
		ch.Applying = false // the config was in place before the rollout
	}
	if cp == "" {
		if err := reloadUntilLive(ctx, env, phase); err != nil {
			return err
		}
	}
	for _, f := range files {
		if !slices.Contains(r.Changes.ConfigFiles, f) {
			r.Changes.ConfigFiles = append(r.Changes.ConfigFiles, f)
		}
	}
	r.Changes.Phase = string(phase)
	env.info("the origin serves the "+string(phase)+" phase", "checkpoint", cp, "files", strings.Join(files, " "))
	return nil
}

// Targeter is an origin applier that can put the config in the
// operator's own site instead of a block of its own (ServerOrigin).
type Targeter interface {
	ChooseTarget(ctx context.Context, spec render.Spec) (inplace.Choice, error)
	UseTarget(t inplace.Target)
}

// chooseTarget settles, once per rollout, where the origin config goes and
// records it in the inputs, so every later apply, check and resume edits
// the same place.
func chooseTarget(ctx context.Context, env *Env, spec render.Spec) error {
	r := env.Rollout
	t, ok := env.Origin.(Targeter)
	if !ok {
		return nil
	}
	// The site is looked up to choose the target, and, when it is the
	// operator's own site and no origin address was given, for the
	// addresses it listens on.
	existing := r.Inputs.Origin.Target == string(inplace.Existing)
	if r.Inputs.Origin.Target == "" || existing && len(r.Inputs.Origins) == 0 && len(r.SiteAddrs) == 0 {
		choice, err := lookupTarget(ctx, t, spec)
		if err != nil {
			return err
		}
		if r.Inputs.Origin.Target == "" {
			r.Inputs.Origin.Target = string(choice.Target)
			env.info("origin config target "+string(choice.Target)+": "+choice.Why, "target", string(choice.Target))
		}
		if r.Inputs.Origin.Target == string(inplace.Existing) && len(r.Inputs.Origins) == 0 {
			r.SiteAddrs = siteAddrs(choice.Hosts)
			env.info("no origin address given: probing the addresses the site listens on, "+strings.Join(r.SiteAddrs, " "), "origins", strings.Join(r.SiteAddrs, " "))
		}
		if err := env.checkpoint(); err != nil {
			return err
		}
	}
	t.UseTarget(inplace.Target(r.Inputs.Origin.Target))
	return nil
}

// lookupTarget finds the site that serves spec's hostnames, and with it
// where the config would go.
func lookupTarget(ctx context.Context, t Targeter, spec render.Spec) (inplace.Choice, error) {
	choice, err := t.ChooseTarget(ctx, spec)
	if errors.Is(err, inplace.ErrNoBlock) {
		return choice, badInput(err, "give the origin's own certificate and key for a new server block of aopwizard's, or add TLS to the site first")
	}
	if err != nil {
		return choice, fail(fmt.Errorf("find the site that serves the hostnames: %w", err), "")
	}
	return choice, nil
}

// reloadUntilLive reloads a server whose files already hold the config but
// which does not serve it (restarted from an old config, or reloaded by
// nobody), and checks again.
func reloadUntilLive(ctx context.Context, env *Env, phase render.Phase) error {
	ok, detail := originLive(ctx, env, probe.Phase(phase))
	if ok {
		return nil
	}
	env.warn("the " + string(phase) + " phase config is in place but not served (" + detail + "); reloading the server")
	if err := env.Origin.Reload(ctx); err != nil {
		return fail(fmt.Errorf("reload the server: %w", err), "fix the cause shown and resume")
	}
	if ok, detail = originLive(ctx, env, probe.Phase(phase)); !ok {
		return fail(fmt.Errorf("the %s phase config is in place and the server was reloaded, but the origin does not serve it: %s", phase, detail),
			"check that the origin addresses reach this server, and resume")
	}
	return nil
}

func phaseInPlace(ctx context.Context, env *Env, phase render.Phase, ch *PhaseChange) (bool, error) {
	r := env.Rollout
	if r.Inputs.OriginConfig == OriginApply {
		if env.Origin == nil {
			return false, nil
		}
		// A change a crash left unrecorded is never taken as done: its
		// checkpoint may still be in progress.
		if ch.Applying && ch.Checkpoint == "" {
			return false, nil
		}
		cur, err := env.Origin.Current(ctx, r.spec(phase))
		if err != nil || !cur {
			return false, err
		}
	}
	ok, _ := originLive(ctx, env, probe.Phase(phase))
	return ok, nil
}

func undoPhase(ctx context.Context, env *Env, ch *PhaseChange) error {
	if env.Rollout.Inputs.OriginConfig == OriginManual {
		env.info("the origin config was yours to write: remove the aopwizard block (between its BEGIN and END markers) and reload")
		return nil
	}
	if ch.Checkpoint == "" {
		ch.Applying = false
		return nil
	}
	if env.Origin == nil {
		return errors.New("no origin applier to restore the origin config")
	}
	if err := env.Origin.Rollback(ctx); err != nil {
		return fmt.Errorf("restore the origin config (checkpoint %s): %w", ch.Checkpoint, err)
	}
	env.info("restored the origin config", "checkpoint", ch.Checkpoint)
	*ch = PhaseChange{}
	return nil
}

// waitManual prints the config and where it goes, then probes the origin
// until the phase is live or the wait is over.
func waitManual(ctx context.Context, env *Env, spec render.Spec, until liveCheck) error {
	out, err := render.Render(spec)
	if err != nil {
		return badInput(err, "fix the origin settings")
	}
	for _, f := range out.Files {
		env.info("put this "+string(spec.Phase)+" phase config in "+f.Path+" and reload the server", "path", f.Path, "content", string(f.Content))
	}
	for _, n := range out.Notes {
		env.warn(n)
	}
	wait := env.Rollout.Inputs.WaitOrigin
	deadline := env.now().Add(wait)
	interval := env.PollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	for {
		ok, detail := originLive(ctx, env, probe.Phase(spec.Phase))
		if ok && until != nil {
			ok, detail = until(ctx)
		}
		if ok {
			env.Rollout.Changes.Phase = string(spec.Phase)
			env.info("the origin serves the " + string(spec.Phase) + " phase")
			return nil
		}
		if !env.now().Before(deadline) {
			return fail(fmt.Errorf("the origin did not serve the %s phase within %s: %s", spec.Phase, wait, detail),
				"apply the config shown, reload the server, and resume")
		}
		env.info("waiting for the origin: "+detail, "phase", string(spec.Phase))
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// row is one cell of the verification matrix.
type row struct {
	Origin, Host, Case string
	Kind               probe.Kind
	Class              probe.Class
	Expected, Observed string
	OK                 bool
}

// originLive reports whether every origin serves phase: the probes meet
// the phase's expectations and the origin asks for a certificate from the
// rollout's CA. detail names the first cell that does not.
func originLive(ctx context.Context, env *Env, phase probe.Phase) (bool, string) {
	rows, err := probeMatrix(ctx, env, phase)
	if err != nil {
		return false, err.Error()
	}
	for _, r := range rows {
		if !r.OK {
			return false, fmt.Sprintf("%s (%s) %s: expected %s, got %s", r.Origin, r.Host, r.Case, r.Expected, r.Observed)
		}
	}
	return true, ""
}

// CertHostnames are the hostnames certificate c serves, as probes and
// the edge proof ask for them: its own in hostname mode, else the rollout's
// hostnames, else the zone's name.
func (r *Rollout) CertHostnames(c CertRecord) []string {
	hosts := c.Hostnames
	if r.Inputs.Mode != ModeHostname {
		hosts = r.Inputs.Hostnames
	}
	if len(hosts) == 0 {
		hosts = []string{r.Inputs.Zone}
	}
	return hosts
}

// siteAddrs are the addresses the sites serving hosts listen on, each once.
func siteAddrs(hosts []sites.Host) []string {
	var out []string
	for _, h := range hosts {
		for _, b := range h.Blocks {
			for _, a := range b.DialAddrs() {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// originAddrs are the origin addresses to probe: the given origins, else
// those of the operator's site the config went into, else the listen
// address of aopwizard's own block.
func (r *Rollout) originAddrs() []string {
	if len(r.Inputs.Origins) > 0 {
		return r.Inputs.Origins
	}
	if len(r.SiteAddrs) > 0 {
		return r.SiteAddrs
	}
	l := r.Inputs.Origin.Listen
	if l == "" {
		l = ":443"
	}
	if a := server.DialAddr(l); a != "" {
		return []string{a}
	}
	return nil
}

// probeMatrix probes every origin x hostname with no certificate, a
// certificate from a throwaway CA, and the rollout's own certificate when
// its key is at hand, and compares each with what phase requires.
func probeMatrix(ctx context.Context, env *Env, phase probe.Phase) ([]row, error) {
	r := env.Rollout
	wrong, err := probe.WrongCA()
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, c := range r.Certificates {
		hosts := r.CertHostnames(c)
		var targets []probe.Target
		for _, o := range r.originAddrs() {
			for _, h := range hosts {
				targets = append(targets, probe.Target{Addr: o, SNI: h})
			}
		}
		cases := []probe.Case{probe.NoCert(), wrong}
		if c.CertFile != "" && c.KeyFile != "" {
			if pair, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err == nil {
				cases = append(cases, probe.RightCert(pair))
			}
		}
		caSubject := ""
		if ca, err := readCert(c.CAFile); err == nil {
			caSubject = ca.Subject.String()
		}
		for _, res := range env.prober().Probe(ctx, targets, cases) {
			// The matrix's expected column is the outcome, as its observed
			// column is: Expect's explanation would repeat the observation.
			ok, _ := probe.Expect(phase, res)
			want := expectation(phase, res.Kind)
			if ok && caSubject != "" && len(res.AcceptableCAs) > 0 && !slices.Contains(res.AcceptableCAs, caSubject) {
				ok, want = false, "the origin to ask for a certificate from "+caSubject
			}
			rows = append(rows, row{Origin: res.Addr, Host: res.SNI, Case: res.Case, Kind: res.Kind, Class: res.Class, Expected: want, Observed: res.String(), OK: ok})
		}
	}
	return rows, nil
}

func expectation(phase probe.Phase, k probe.Kind) string {
	if phase == probe.Soft || k == probe.KindRight {
		return "accepted"
	}
	return "rejected"
}

func (e *Env) prober() Prober {
	if e.Prober != nil {
		return e.Prober
	}
	return RealProber
}
