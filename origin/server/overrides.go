package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki"
)

// Overrides replace parts of a server's Debian driver, for containers,
// other layouts and hosts without systemd. Empty fields keep the default.
type Overrides struct {
	Config    string // main config file; made absolute
	Binary    string
	TestCmd   string // run with sh -c
	ReloadCmd string // run with sh -c
	PIDFile   string // HAProxy's master pid file
	ErrorLog  string // nginx -e
	Systemd   *bool  // nil: whether systemd runs this host
}

// Driver returns kind's Debian driver with the overrides applied.
func (o Overrides) Driver(kind render.Server) (*Driver, error) {
	d, err := Debian(kind)
	if err != nil {
		return nil, err
	}
	if err := o.Apply(d); err != nil {
		return nil, err
	}
	return d, nil
}

// Apply sets the overridden fields on d (also a driver recorded in a
// checkpoint, which rollback reloads with today's commands).
func (o Overrides) Apply(d *Driver) error {
	if o.Systemd != nil {
		d.Systemd = *o.Systemd
	}
	if o.Config != "" {
		p, err := filepath.Abs(o.Config)
		if err != nil {
			return fmt.Errorf("main config %s: %w", o.Config, err)
		}
		d.SetConfigPath(p)
	}
	for _, f := range []struct {
		dst *string
		src string
	}{{&d.Binary, o.Binary}, {&d.TestCmd, o.TestCmd}, {&d.ReloadCmd, o.ReloadCmd}, {&d.PIDFile, o.PIDFile}, {&d.ErrorLog, o.ErrorLog}} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	return nil
}

// Check reports the overridden paths that cannot be right (a missing
// config or binary, a directory given as the config) as bad input, before
// any command runs: a config test would only fail with a misleading
// "the current config fails its test".
func (o Overrides) Check(kind render.Server) error {
	d := &Driver{Kind: kind, ConfigPath: o.Config, Binary: o.Binary}
	if o.Config != "" {
		if err := d.checkConfig(); err != nil {
			return err
		}
	}
	if o.Binary != "" {
		return d.checkBinary()
	}
	return nil
}

// Check reports a main config that is not a regular file, or a binary that
// is not there when the commands need it, as bad input.
func (d *Driver) Check() error {
	if err := d.checkConfig(); err != nil {
		return err
	}
	if d.TestCmd == "" || (d.ReloadCmd == "" && !d.Systemd) {
		return d.checkBinary()
	}
	return nil
}

func (d *Driver) checkConfig() error {
	what := fmt.Sprintf("%s main config %s", kindName(d.Kind), d.ConfigPath)
	fi, err := os.Stat(d.ConfigPath)
	if errors.Is(err, fs.ErrNotExist) && d.Kind == render.Builtin {
		// The builtin origin's whole config is the file aopwizard writes:
		// before the first apply it does not exist yet.
		return nil
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = errors.New("no such file")
	case err == nil && !fi.Mode().IsRegular():
		err = pki.NotRegular(fi.Mode())
	}
	if err != nil {
		return &Error{What: what, Err: err, Kind: RemedyServerConfig, BadInput: true,
			Remedy: "name the main config file the running server was started with"}
	}
	return nil
}

func (d *Driver) checkBinary() error {
	if _, err := exec.LookPath(d.Binary); err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return &Error{What: fmt.Sprintf("%s binary %s", kindName(d.Kind), d.Binary), Err: err,
			Kind: RemedyServerBinary, BadInput: true, Remedy: "name the server's executable"}
	}
	return nil
}

func kindName(k render.Server) string {
	if k == "" {
		return "server"
	}
	return string(k)
}
