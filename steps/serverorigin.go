package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// ServerOrigin applies origin configs with origin/apply: config test before
// and after, a checkpoint of every file, atomic writes, reload, listener
// check, and restore on any failure. Its lock file is origin/apply's, in the
// checkpoint directory, so a rollout and a manual `origin apply` never
// change one server at once.
type ServerOrigin struct {
	Driver        *server.Driver
	Runner        server.Runner
	CheckpointDir string
	Log           io.Writer
	// Target is where the config goes: aopwizard's own block (managed, the
	// default) or the operator's site edited in place (existing).
	Target inplace.Target
}

// NewServerOrigin builds the driver for the rollout's server from Debian's
// layout and the rollout's overrides. The builtin origin has no layout: its
// config file and commands must be given.
func NewServerOrigin(in Inputs, runner server.Runner, log io.Writer, stateDir string) (*ServerOrigin, error) {
	kind, err := render.ParseServer(in.Server)
	if err != nil {
		return nil, err
	}
	var d *server.Driver
	if kind == render.Builtin {
		if in.Origin.Config == "" || in.Origin.TestCmd == "" || in.Origin.ReloadCmd == "" {
			return nil, errors.New("the builtin origin needs its config file, test command and reload command")
		}
		d = &server.Driver{Kind: kind}
	} else if d, err = server.Debian(kind); err != nil {
		return nil, fmt.Errorf("%w; aopwizard applies configs to nginx, apache and haproxy: use manual origin config for %s", err, kind)
	}
	o := in.Origin
	if err := o.Overrides().Apply(d); err != nil {
		return nil, err
	}
	cp := o.CheckpointDir
	if cp == "" {
		cp = filepath.Join(stateDir, "checkpoints")
	}
	if runner == nil {
		runner = server.NewExecRunner(log)
	}
	return &ServerOrigin{Driver: d, Runner: runner, CheckpointDir: cp, Log: log, Target: inplace.Target(o.Target)}, nil
}

// plan is the change of spec on the server: aopwizard's own block
// (managed), or the operator's TLS blocks edited in place (existing), with
// the listener checks after the reload.
func (s *ServerOrigin) plan(ctx context.Context, spec render.Spec) ([]apply.Change, []apply.Target, error) {
	if spec.ConfDir == "" && s.Driver.ConfigPath != "" {
		spec.ConfDir = filepath.Dir(s.Driver.ConfigPath)
	}
	perHost, err := apply.Targets(spec)
	if err != nil {
		return nil, nil, err
	}
	if s.Target != inplace.Existing {
		out, err := render.Render(spec)
		if err != nil {
			return nil, nil, err
		}
		ch, err := apply.Changes(out, spec.ID, s.Driver)
		return ch, perHost, err
	}
	in, extra, err := inplace.InputFor(spec)
	if err != nil {
		return nil, nil, err
	}
	plan, hosts, err := inplace.PlanFor(ctx, s.Runner, s.Driver, specHostnames(spec), in)
	switch {
	case errors.Is(err, inplace.ErrLoose):
		return nil, nil, fmt.Errorf("%w; the rollout edits only blocks that name the hostnames exactly: apply the origin config by hand (manual origin config), or give the hostnames their own server block", err)
	case errors.Is(err, inplace.ErrConflict):
		return nil, nil, fmt.Errorf("%w; the rollout does not replace the site's own client-certificate settings: remove them, or apply the origin config by hand (manual origin config)", err)
	case err != nil:
		return nil, nil, err
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(s.Log, "warning: %s\n", w)
	}
	return append(extra, plan.Changes()...), inplace.ListenerTargets(hosts, perHost), nil
}

func specHostnames(spec render.Spec) []string {
	names := make([]string, 0, len(spec.Hosts))
	for _, h := range spec.Hosts {
		names = append(names, h.Name)
	}
	return names
}

// ChooseTarget picks where the rollout's config goes: the operator's own
// TLS site for the hostnames when the server has one, else aopwizard's own
// block (which needs the origin's certificate and key). The builtin origin
// has no sites of its own.
func (s *ServerOrigin) ChooseTarget(ctx context.Context, spec render.Spec) (inplace.Choice, error) {
	switch s.Driver.Kind {
	case render.Nginx, render.Apache, render.HAProxy:
	default:
		return inplace.Choice{Target: inplace.Managed, Why: string(s.Driver.Kind) + " has no existing sites to edit: writing aopwizard's own block"}, nil
	}
	return inplace.ChooseTarget(ctx, s.Runner, s.Driver, spec.ID, specHostnames(spec), spec.ServerCertFile != "")
}

// Preview implements Previewer: the target the origin step would choose
// (the recorded one when there is one), and the change of spec there as a
// diff of each file, computed without writing anything.
func (s *ServerOrigin) Preview(ctx context.Context, spec render.Spec) (OriginView, error) {
	v := OriginView{Target: s.Target}
	if v.Target == "" {
		choice, err := s.ChooseTarget(ctx, spec)
		if err != nil {
			return v, err
		}
		v.Target, v.Why = choice.Target, choice.Why
	}
	saved := s.Target
	s.Target = v.Target
	defer func() { s.Target = saved }()
	changes, _, err := s.plan(ctx, spec)
	if err != nil {
		return v, err
	}
	for _, c := range changes {
		v.Files = append(v.Files, c.Path)
	}
	if v.Diff, err = apply.DryRun(changes); err != nil {
		return v, err
	}
	// The commands as given, else as derived (the reload's may need the
	// pid file of a server not running yet: then it is left out).
	test, reload := s.Driver.TestCmd, s.Driver.ReloadCmd
	if test == "" {
		test = strings.Join(s.Driver.TestArgv(), " ")
	}
	if argv, err := s.Driver.ReloadArgv(); reload == "" && err == nil {
		reload = strings.Join(argv, " ")
	}
	for _, c := range []string{test, reload} {
		if c != "" {
			v.Commands = append(v.Commands, c)
		}
	}
	return v, nil
}

// UseTarget sets where Apply and Current put the config.
func (s *ServerOrigin) UseTarget(t inplace.Target) { s.Target = t }

func (s *ServerOrigin) options(targets []apply.Target, id string) apply.Options {
	return apply.Options{Driver: s.Driver, Runner: s.Runner, CheckpointDir: s.CheckpointDir, Events: apply.TextEvents(s.Log), ID: id, Targets: targets}
}

// Apply implements OriginApplier.
func (s *ServerOrigin) Apply(ctx context.Context, spec render.Spec) (string, []string, error) {
	// A run killed mid-apply left files half-changed: restore them before
	// planning, or the plan would describe (and be checked against) them.
	if _, err := apply.Recover(ctx, s.options(nil, spec.ID)); err != nil {
		return "", nil, err
	}
	changes, targets, err := s.plan(ctx, spec)
	if err != nil {
		return "", nil, err
	}
	res, err := apply.Apply(ctx, s.options(targets, spec.ID), changes)
	if err != nil {
		return "", nil, err
	}
	return res.Checkpoint, res.Changed, nil
}

// Current implements OriginApplier.
func (s *ServerOrigin) Current(ctx context.Context, spec render.Spec) (bool, error) {
	changes, _, err := s.plan(ctx, spec)
	if err != nil {
		return false, err
	}
	diff, err := apply.DryRun(changes)
	return diff == "", err
}

// Rollback implements OriginApplier.
func (s *ServerOrigin) Rollback(ctx context.Context) error {
	_, err := apply.Rollback(ctx, s.options(nil, ""))
	return err
}

// Reload implements OriginApplier.
func (s *ServerOrigin) Reload(ctx context.Context) error {
	if err := s.Driver.Test(ctx, s.Runner); err != nil {
		return err
	}
	return s.Driver.Reload(ctx, s.Runner)
}
