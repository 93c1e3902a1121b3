package steps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/aopwizard/aopwizard/origin/apply"
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
	if o.Config != "" {
		d.SetConfigPath(o.Config)
	}
	for _, x := range []struct {
		dst *string
		src string
	}{{&d.Binary, o.Binary}, {&d.TestCmd, o.TestCmd}, {&d.ReloadCmd, o.ReloadCmd}, {&d.PIDFile, o.PIDFile}, {&d.ErrorLog, o.ErrorLog}} {
		if x.src != "" {
			*x.dst = x.src
		}
	}
	if o.Systemd != nil {
		d.Systemd = *o.Systemd
	}
	cp := o.CheckpointDir
	if cp == "" {
		cp = filepath.Join(stateDir, "checkpoints")
	}
	if runner == nil {
		runner = server.NewExecRunner(log)
	}
	return &ServerOrigin{Driver: d, Runner: runner, CheckpointDir: cp, Log: log}, nil
}

func (s *ServerOrigin) changes(spec render.Spec) (render.Spec, []apply.Change, error) {
	if spec.ConfDir == "" && s.Driver.ConfigPath != "" {
		spec.ConfDir = filepath.Dir(s.Driver.ConfigPath)
	}
	out, err := render.Render(spec)
	if err != nil {
		return spec, nil, err
	}
	ch, err := apply.Changes(out, spec.ID, s.Driver)
	return spec, ch, err
}

func (s *ServerOrigin) options(spec render.Spec) (apply.Options, error) {
	o := apply.Options{Driver: s.Driver, Runner: s.Runner, CheckpointDir: s.CheckpointDir, Events: apply.TextEvents(s.Log), ID: spec.ID}
	if spec.ID == "" {
		return o, nil
	}
	var err error
	o.Targets, err = apply.Targets(spec)
	return o, err
}

// Apply implements OriginApplier.
func (s *ServerOrigin) Apply(ctx context.Context, spec render.Spec) (string, []string, error) {
	o, err := s.options(spec)
	if err != nil {
		return "", nil, err
	}
	// A run killed mid-apply left files half-changed: restore them before
	// planning, or the plan would describe (and be checked against) them.
	if _, err := apply.Recover(ctx, o); err != nil {
		return "", nil, err
	}
	spec, changes, err := s.changes(spec)
	if err != nil {
		return "", nil, err
	}
	res, err := apply.Apply(ctx, o, changes)
	if err != nil {
		return "", nil, err
	}
	return res.Checkpoint, res.Changed, nil
}

// Current implements OriginApplier.
func (s *ServerOrigin) Current(_ context.Context, spec render.Spec) (bool, error) {
	_, changes, err := s.changes(spec)
	if err != nil {
		return false, err
	}
	diff, err := apply.DryRun(changes)
	return diff == "", err
}

// Rollback implements OriginApplier.
func (s *ServerOrigin) Rollback(ctx context.Context) error {
	o, _ := s.options(render.Spec{})
	_, err := apply.Rollback(ctx, o)
	return err
}

// Reload implements OriginApplier.
func (s *ServerOrigin) Reload(ctx context.Context) error {
	if err := s.Driver.Test(ctx, s.Runner); err != nil {
		return err
	}
	return s.Driver.Reload(ctx, s.Runner)
}
