package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/renameio/v2"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// nginxOrigin is a real nginx started from a standalone config in the
// demo's directory (docs/origin-servers.md, "Standalone nginx"): its main
// config includes one site file, empty until the rollout writes its server
// block there through origin/apply, as it would on a real origin.
type nginxOrigin struct {
	dir    string
	driver *server.Driver
}

// nginxWait bounds nginx's start and stop.
const nginxWait = 15 * time.Second

// ErrNginxMissing says the nginx origin was asked for on a machine without
// nginx.
var ErrNginxMissing = errors.New("nginx is not installed here")

func nginxInstalled() error {
	d, err := server.Debian(render.Nginx)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(d.Binary); err != nil {
		return fmt.Errorf("%w (%s not found): run the demo with the builtin origin", ErrNginxMissing, d.Binary)
	}
	return nil
}

// startNginx writes the standalone main config and an empty site file into
// dir, starts nginx on it and waits for its pid file.
func startNginx(ctx context.Context, dir, listen string, tls originTLS, accessLog string) (*nginxOrigin, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The main config is rendered for a soft-phase site; only its main file
	// is kept, so the spec's CA (the origin's own, a stand-in) never reaches
	// nginx.
	out, err := render.Standalone(render.Spec{ID: Zone, Server: render.Nginx, Phase: render.Soft, Mode: render.Zone,
		Listen: listen, ServerCertFile: tls.cert, ServerKeyFile: tls.key, CAFile: tls.ca, AccessLog: accessLog, RuntimeDir: dir})
	if err != nil {
		return nil, err
	}
	if len(out.Files) < 2 {
		return nil, errors.New("the standalone nginx config has no site file")
	}
	main, site := out.Files[0], out.Files[1]
	if err := main.WriteTo(main.Path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(site.Path), 0o700); err != nil {
		return nil, err
	}
	if err := renameio.WriteFile(site.Path, []byte("# the demo rollout writes its server block here\n"), 0o644); err != nil {
		return nil, err
	}
	d, err := server.Standalone(render.Nginx, main.Path)
	if err != nil {
		return nil, err
	}
	d.ErrorLog = filepath.Join(dir, "error.log")
	n := &nginxOrigin{dir: dir, driver: d}
	argv := d.StartArgv()
	// nginx daemonises: the parent exits once the config is loaded, so its
	// exit status and output are the start's result. The start is not
	// cancelled half-way (a master could outlive a killed parent unseen):
	// it takes milliseconds, and an interrupt stops nginx right after.
	if b, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start nginx (%s): %w: %s", server.Quote(argv), err, strings.TrimSpace(string(b)))
	}
	if _, err := n.waitPID(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		_ = n.stop()
		return nil, err
	}
	return n, nil
}

func (n *nginxOrigin) pidFile() string { return filepath.Join(n.dir, "nginx.pid") }

// waitPID polls for nginx's pid file: it is written after the parent
// returned.
func (n *nginxOrigin) waitPID() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), nginxWait)
	defer cancel()
	for {
		if pid, err := server.ReadPID(n.pidFile()); err == nil {
			return pid, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("nginx wrote no pid file %s: %w", n.pidFile(), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop asks nginx to quit gracefully and waits until its master is gone,
// killing it if it does not go in time.
func (n *nginxOrigin) stop() error {
	pid, err := server.ReadPID(n.pidFile())
	if err != nil {
		return fmt.Errorf("stop nginx: %w; it may still run", err)
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	deadline := time.Now().Add(nginxWait)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return fmt.Errorf("nginx (pid %d) did not quit in %s: killed", pid, nginxWait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
