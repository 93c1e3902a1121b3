// Package server knows how to test, reload, start and stop the
// Debian-packaged web servers aopwizard configures (nginx, Apache httpd,
// HAProxy): which binary, which main config, which include directory and
// which commands, with every path and command overridable for containers,
// non-Debian layouts and hosts without systemd (docs/origin-servers.md,
// "Commands and timings").
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
)

// Kinds lists the servers this package drives, in the order Detect
// prefers them. The kind type is render.Server, shared with the renderer.
var Kinds = []render.Server{render.Nginx, render.Apache, render.HAProxy}

// Driver holds the binary, paths and commands of one server. The zero
// values of the override fields mean "derive from the other fields".
type Driver struct {
	Kind render.Server

	Binary     string // e.g. /usr/sbin/nginx
	ConfigPath string // main config, e.g. /etc/nginx/nginx.conf

	// ErrorLog is nginx's -e path: nginx opens its compiled-in error log
	// before reading the config, so an absolute path avoids failing on
	// layouts without /var/log/nginx. Empty means no -e.
	ErrorLog string
	// PIDFile is HAProxy's master pid file, signalled with USR2 to reload
	// when systemd is not in charge.
	PIDFile string

	// TestCmd and ReloadCmd replace the derived commands; they run with
	// /bin/sh -c so they may use $(…) and pipes.
	TestCmd   string
	ReloadCmd string

	// Systemd makes the default reload `systemctl reload <Unit>`.
	Systemd bool
	Unit    string

	// Apache2ctl marks the stock Debian Apache layout, whose apache2.conf
	// only parses with the variables /etc/apache2/envvars sets; apache2ctl
	// sources them.
	Apache2ctl bool
}

// ParseKind checks a --server value.
func ParseKind(s string) (render.Server, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown server %q: use one of nginx, apache, haproxy", s)
}

// SystemdRunning reports whether systemd manages this host, the test
// systemd's own sd_booted() uses.
func SystemdRunning() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// Debian returns the driver for a server as Debian 12 packages it.
func Debian(kind render.Server) (*Driver, error) {
	d := &Driver{Kind: kind, Systemd: SystemdRunning()}
	switch kind {
	case render.Nginx:
		d.Binary, d.ConfigPath, d.Unit = "/usr/sbin/nginx", "/etc/nginx/nginx.conf", "nginx"
	case render.Apache:
		d.Binary, d.ConfigPath, d.Unit = "/usr/sbin/apache2", "/etc/apache2/apache2.conf", "apache2"
		d.Apache2ctl = true
	case render.HAProxy:
		d.Binary, d.ConfigPath, d.Unit, d.PIDFile = "/usr/sbin/haproxy", "/etc/haproxy/haproxy.cfg", "haproxy", "/run/haproxy.pid"
	default:
		return nil, fmt.Errorf("no driver for server %q: aopwizard applies configs only to nginx, apache and haproxy", kind)
	}
	return d, nil
}

// Standalone returns a driver for a server started by aopwizard (tests,
// demo, containers) from mainConfig: no systemd, no apache2ctl, and
// HAProxy's pid file next to the config.
func Standalone(kind render.Server, mainConfig string) (*Driver, error) {
	d, err := Debian(kind)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(mainConfig)
	d.ConfigPath, d.Systemd, d.Apache2ctl = mainConfig, false, false
	switch kind {
	case render.Nginx:
		d.ErrorLog = filepath.Join(dir, "nginx-error.log")
	case render.HAProxy:
		d.PIDFile = filepath.Join(dir, "haproxy.pid")
	}
	return d, nil
}

// SetConfigPath points the driver at another main config. A non-default
// Apache config no longer gets Debian's envvars from apache2ctl.
func (d *Driver) SetConfigPath(path string) {
	d.ConfigPath = path
	if d.Kind == render.Apache && path != "/etc/apache2/apache2.conf" {
		d.Apache2ctl = false
	}
}

// Installed reports whether the driver's binary exists.
func (d *Driver) Installed() bool {
	_, err := exec.LookPath(d.Binary)
	return err == nil
}

// Detect returns the supported servers whose Debian binary and main config
// are both present, for a default when the operator names none.
func Detect() []render.Server {
	var found []render.Server
	for _, k := range Kinds {
		d, _ := Debian(k)
		if _, err := os.Stat(d.ConfigPath); err == nil && d.Installed() {
			found = append(found, k)
		}
	}
	return found
}

// Pick chooses the server to configure from the ones Detect found, when
// the operator named none: only an unambiguous answer is taken.
func Pick(found []render.Server) (render.Server, error) {
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", &Error{Err: errors.New("no nginx, Apache or HAProxy was found at the Debian paths (/usr/sbin/nginx with /etc/nginx/nginx.conf, …)"),
			Kind: RemedyServerKind, BadInput: true, Remedy: "name the server, with its binary and main config for other layouts"}
	}
	names := make([]string, len(found))
	for i, k := range found {
		names[i] = string(k)
	}
	return "", &Error{Err: fmt.Errorf("%s are all installed here", strings.Join(names, ", ")),
		Kind: RemedyServerKind, BadInput: true, Remedy: "name the one to configure"}
}

func shell(cmd string) []string { return []string{"/bin/sh", "-c", cmd} }

// apache2ctl is Debian's wrapper next to the apache2 binary.
func (d *Driver) apache2ctl() string { return filepath.Join(filepath.Dir(d.Binary), "apache2ctl") }

// TestArgv is the config-test command.
func (d *Driver) TestArgv() []string {
	if d.TestCmd != "" {
		return shell(d.TestCmd)
	}
	switch d.Kind {
	case render.Nginx:
		return append([]string{d.Binary, "-t", "-q", "-c", d.ConfigPath}, d.errorLogArgs()...)
	case render.Apache:
		if d.Apache2ctl {
			return []string{d.apache2ctl(), "configtest"}
		}
		return []string{d.Binary, "-t", "-f", d.ConfigPath}
	default:
		return []string{d.Binary, "-c", "-q", "-f", d.ConfigPath}
	}
}

func (d *Driver) errorLogArgs() []string {
	if d.ErrorLog == "" {
		return nil
	}
	return []string{"-e", d.ErrorLog}
}

// ReloadArgv is the reload command. HAProxy without systemd is reloaded by
// signalling the master process named in its pid file, so that file is read
// here.
func (d *Driver) ReloadArgv() ([]string, error) {
	if d.ReloadCmd != "" {
		return shell(d.ReloadCmd), nil
	}
	if d.Systemd {
		return []string{"systemctl", "reload", d.Unit}, nil
	}
	switch d.Kind {
	case render.Nginx:
		return append(append([]string{d.Binary, "-c", d.ConfigPath}, d.errorLogArgs()...), "-s", "reload"), nil
	case render.Apache:
		if d.Apache2ctl {
			return []string{d.apache2ctl(), "graceful"}, nil
		}
		return []string{d.Binary, "-f", d.ConfigPath, "-k", "graceful"}, nil
	default:
		pid, err := ReadPID(d.PIDFile)
		if err != nil {
			return nil, &Error{What: "reload haproxy", Err: err, Kind: RemedyReloadCommand,
				Remedy: "if haproxy keeps its pid elsewhere, give the reload command to use"}
		}
		return []string{"kill", "-USR2", strconv.Itoa(pid)}, nil
	}
}

// StartArgv is the command that starts the server in the background-free
// form the test harness uses: nginx and Apache daemonise themselves,
// HAProxy runs in master-worker mode in the foreground
// (docs/origin-servers.md, "Commands and timings").
func (d *Driver) StartArgv() []string {
	switch d.Kind {
	case render.Nginx:
		return append([]string{d.Binary, "-c", d.ConfigPath}, d.errorLogArgs()...)
	case render.Apache:
		return []string{d.Binary, "-f", d.ConfigPath, "-k", "start"}
	default:
		return []string{d.Binary, "-W", "-db", "-f", d.ConfigPath, "-p", d.PIDFile}
	}
}

// Test runs the config test.
func (d *Driver) Test(ctx context.Context, r Runner) error {
	if _, err := r.Run(ctx, d.TestArgv()...); err != nil {
		return fmt.Errorf("%s config test failed: %w", d.Kind, err)
	}
	return nil
}

// Reload asks the running server to load its config again. A zero exit
// only means the request was delivered: reloads apply asynchronously, so
// callers must check the listener afterwards.
func (d *Driver) Reload(ctx context.Context, r Runner) error {
	argv, err := d.ReloadArgv()
	if err != nil {
		return err
	}
	if _, err := r.Run(ctx, argv...); err != nil {
		return fmt.Errorf("%s reload failed: %w", d.Kind, err)
	}
	return nil
}

// ReadPID reads a pid file.
func ReadPID(path string) (int, error) {
	if path == "" {
		return 0, errors.New("no pid file configured")
	}
	b, err := ReadFile(path, MaxPIDFile, "pid file")
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s holds %q, not a process id", path, strings.TrimSpace(string(b)))
	}
	return pid, nil
}

// DialAddr turns a listen address ("127.0.0.1:8443", ":443", "[::]:443",
// "443") into one a local client can dial: wildcard hosts become loopback.
// It returns "" for what is not a host:port or port.
func DialAddr(listen string) string {
	if _, err := strconv.Atoi(listen); err == nil {
		return net.JoinHostPort("127.0.0.1", listen)
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	switch host {
	case "", "*", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
