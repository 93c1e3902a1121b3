package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
)

// The commands match docs/origin-servers.md, "Commands and timings", and
// Debian's units, and the overrides replace them.
func TestDriverCommands(t *testing.T) {
	t.Parallel()
	pid := filepath.Join(t.TempDir(), "haproxy.pid")
	if err := os.WriteFile(pid, []byte("4242\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, _ := server.Debian(render.HAProxy)
	d.Systemd, d.PIDFile = false, pid
	cases := []struct {
		name string
		d    func() *server.Driver
		test string
		rel  string
	}{
		{"nginx", func() *server.Driver { d, _ := server.Debian(render.Nginx); d.Systemd = false; return d },
			"/usr/sbin/nginx -t -q -c /etc/nginx/nginx.conf", "/usr/sbin/nginx -c /etc/nginx/nginx.conf -s reload"},
		{"nginx systemd", func() *server.Driver { d, _ := server.Debian(render.Nginx); d.Systemd = true; return d },
			"/usr/sbin/nginx -t -q -c /etc/nginx/nginx.conf", "systemctl reload nginx"},
		{"apache debian", func() *server.Driver { d, _ := server.Debian(render.Apache); d.Systemd = false; return d },
			"/usr/sbin/apache2ctl configtest", "/usr/sbin/apache2ctl graceful"},
		{"apache own config", func() *server.Driver {
			d, _ := server.Debian(render.Apache)
			d.Systemd = false
			d.SetConfigPath("/srv/a.conf")
			return d
		}, "/usr/sbin/apache2 -t -f /srv/a.conf", "/usr/sbin/apache2 -f /srv/a.conf -k graceful"},
		{"haproxy", func() *server.Driver { return d }, "/usr/sbin/haproxy -c -q -f /etc/haproxy/haproxy.cfg", "kill -USR2 4242"},
		{"overrides", func() *server.Driver {
			d, _ := server.Debian(render.Nginx)
			d.TestCmd, d.ReloadCmd = "docker exec web nginx -t", "docker exec web nginx -s reload"
			return d
		}, "/bin/sh -c 'docker exec web nginx -t'", "/bin/sh -c 'docker exec web nginx -s reload'"},
	}
	for _, c := range cases {
		d := c.d()
		rel, err := d.ReloadArgv()
		if err != nil {
			t.Fatal(err)
		}
		if got := server.Quote(d.TestArgv()); got != c.test {
			t.Errorf("%s test: %q, want %q", c.name, got, c.test)
		}
		if got := server.Quote(rel); got != c.rel {
			t.Errorf("%s reload: %q, want %q", c.name, got, c.rel)
		}
	}
	d.PIDFile = filepath.Join(t.TempDir(), "missing.pid")
	_, err := d.ReloadArgv()
	var se *server.Error
	if !errors.As(err, &se) || se.Kind != server.RemedyReloadCommand || strings.Contains(err.Error(), "--") {
		t.Errorf("missing pid file: %v; want the reload-command remedy, in words without flags", err)
	}
}

// The runner shows each command as "$ cmd" with its output indented, and a
// failure carries the output, where servers say what is wrong.
func TestExecRunnerShowsAndRecords(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	r := server.NewExecRunner(&out)
	_, err := r.Run(context.Background(), "/bin/sh", "-c", "echo bad directive >&2; exit 1")
	if err == nil || !strings.Contains(err.Error(), "bad directive") {
		t.Fatalf("error %v does not carry the output", err)
	}
	if want := "$ /bin/sh -c 'echo bad directive >&2; exit 1'\n  bad directive\n"; out.String() != want {
		t.Fatalf("shown %q, want %q", out.String(), want)
	}
	if recs := r.Records(); len(recs) != 1 || recs[0].Err == nil {
		t.Fatalf("records %+v", recs)
	}
}

// A cancelled command is ended with everything its shell started, at once:
// a reload cut short must not finish behind the restore that follows.
func TestExecRunnerCancelKillsTheProcessGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := server.NewExecRunner(nil).Run(ctx, "/bin/sh", "-c", "sleep 600 & echo $! > "+pidFile+"; wait")
		done <- err
	}()
	pid := waitPIDFile(t, pidFile)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	waitGone(t, pid)
}

// A reload command outlives no aopwizard: when the process running it is
// SIGKILLed, with no chance to clean up, the kernel ends the command.
func TestExecRunnerCommandDiesWithItsParent(t *testing.T) {
	if os.Getenv("AOPWIZARD_RUNNER_CHILD") != "" {
		_, _ = server.NewExecRunner(nil).Run(context.Background(), "/bin/sh", "-c", "echo $$ > "+os.Getenv("AOPWIZARD_RUNNER_CHILD")+"; exec sleep 600")
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("only Linux ties a child's life to its parent")
	}
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "reload.pid")
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecRunnerCommandDiesWithItsParent$")
	cmd.Env = append(os.Environ(), "AOPWIZARD_RUNNER_CHILD="+pidFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitPIDFile(t, pidFile)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL the parent only
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pid)
}

func waitPIDFile(t *testing.T, path string) int {
	t.Helper()
	var pid int
	servertest.Eventually(t, "the command to write its pid", func() error {
		var err error
		pid, err = server.ReadPID(path)
		return err
	})
	return pid
}

// waitGone polls until pid has exited (a zombie awaiting its reaper
// counts: it runs no more code).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	servertest.Eventually(t, fmt.Sprintf("process %d to end", pid), func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return nil
		}
		if runtime.GOOS != "linux" {
			if syscall.Kill(pid, 0) != nil {
				return nil
			}
		}
		return fmt.Errorf("still running: %s", b)
	})
}

// Only an unambiguous detection picks a server; otherwise a remedy, not a
// flag, says to name one.
func TestPick(t *testing.T) {
	t.Parallel()
	if k, err := server.Pick([]render.Server{render.Apache}); err != nil || k != render.Apache {
		t.Fatalf("Pick(apache) = %q, %v", k, err)
	}
	for _, found := range [][]render.Server{nil, {render.Nginx, render.HAProxy}} {
		_, err := server.Pick(found)
		var se *server.Error
		if !errors.As(err, &se) || !se.BadInput || se.Kind != server.RemedyServerKind || strings.Contains(err.Error(), "--") {
			t.Errorf("Pick(%v): %v; want bad input with the server-kind remedy, no flags", found, err)
		}
	}
}
