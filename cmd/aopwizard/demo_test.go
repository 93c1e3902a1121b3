package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps/demo"
)

const edgeProofLine = "found in the origin's log with a verified client certificate"

// demoTemp points the demo's temporary directory at a fresh test directory
// and poisons the Cloudflare environment: the demo must neither read the
// user's token nor talk to anything the environment names.
func demoTemp(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(cfapi.EnvAPIToken, "not-the-demos-token-0123456789")
	t.Setenv(cfapi.EnvBaseURL, "http://127.0.0.1:1/client/v4/")
	return tmp
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// expectDemoDone checks a finished demo's output: the banner first and in
// the summary, and the edge proof for both hostnames in the soft and the
// enforce phase.
func expectDemoDone(t *testing.T, res cliResult) {
	t.Helper()
	res.expect(t, 0, "enforced, verified through the edge", "enforce     ✓ done")
	if first, _, _ := strings.Cut(res.errOut, "\n"); first != demo.Banner {
		t.Fatalf("first line %q, want the banner", first)
	}
	if n := strings.Count(res.errOut, demo.Banner); n != 2 {
		t.Errorf("the banner appears %d times, want 2 (first line and summary)", n)
	}
	if n := strings.Count(res.errOut, edgeProofLine); n != 2*len(demo.Hostnames) {
		t.Errorf("%d edge proofs, want %d (each hostname, soft and enforce):\n%s", n, 2*len(demo.Hostnames), res.errOut)
	}
}

// Every mode reaches "enforced, verified through the edge" with exit 0,
// ignoring the user's Cloudflare environment, and leaves no directory.
func TestDemoNonInteractiveEveryMode(t *testing.T) {
	for _, mode := range []string{"zone", "hostname", "global"} {
		t.Run(mode, func(t *testing.T) {
			tmp := demoTemp(t)
			res := runCLI(t, "demo", "--non-interactive", "--mode", mode)
			expectDemoDone(t, res)
			if !strings.Contains(res.errOut, "("+mode+" mode, builtin origin)") {
				t.Errorf("the summary does not name the mode:\n%s", res.errOut)
			}
			if left := entries(t, tmp); len(left) != 0 {
				t.Fatalf("the demo left %v in the temporary directory", left)
			}
		})
	}
}

// --keep keeps the directory, says where it is, and it holds the report.
func TestDemoKeep(t *testing.T) {
	tmp := demoTemp(t)
	res := runCLI(t, "demo", "--non-interactive", "--keep")
	expectDemoDone(t, res)
	left := entries(t, tmp)
	if len(left) != 1 {
		t.Fatalf("temporary directory holds %v, want the demo's directory", left)
	}
	dir := filepath.Join(tmp, left[0])
	if !strings.Contains(res.errOut, "Kept the demo's files in "+dir) {
		t.Fatalf("the output does not say where the files are (%s):\n%s", dir, res.errOut)
	}
	reports, _ := filepath.Glob(filepath.Join(dir, "state", "reports", "*.md"))
	if len(reports) != 1 {
		t.Fatalf("reports %v", reports)
	}
}

func TestDemoBadInput(t *testing.T) {
	demoTemp(t)
	runCLI(t, "demo", "--non-interactive", "--mode", "sideways", "--origin", "caddy").expect(t, 2, "--mode", "--origin")
	runCLI(t, "demo").expect(t, 2, "--non-interactive")
}

// A real nginx as the origin: the rollout writes its site into the
// standalone config and reloads nginx; at the end nginx is stopped.
func TestDemoNginx(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	// Zone and hostname modes against a real nginx: the rollout applies
	// both phases through origin apply, and verify and enforce each prove
	// it through the simulated edge (expectDemoDone counts the cf-rays).
	for _, mode := range []string{"zone", "hostname"} {
		t.Run(mode, func(t *testing.T) {
			tmp := demoTemp(t)
			res := runCLI(t, "demo", "--non-interactive", "--origin", "nginx", "--mode", mode, "--keep")
			expectDemoDone(t, res)
			res.expect(t, 0, "("+mode+" mode, nginx origin)", "-s reload")
			left := entries(t, tmp)
			if len(left) != 1 {
				t.Fatalf("temporary directory holds %v", left)
			}
			dir := filepath.Join(tmp, left[0])
			pid, err := server.ReadPID(filepath.Join(dir, "nginx", "nginx.pid"))
			if err != nil {
				// nginx removes its pid file when it quits: look for the process.
				if procs := processesMentioning(t, dir); len(procs) > 0 {
					t.Fatalf("processes left behind: %v", procs)
				}
				return
			}
			if err := syscall.Kill(pid, 0); err == nil {
				t.Fatalf("nginx (pid %d) still runs after the demo", pid)
			}
		})
	}
}

// processesMentioning lists the processes whose command line names path:
// anything the demo started from its directory.
func processesMentioning(t *testing.T, path string) []string {
	t.Helper()
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var found []string
	for _, c := range cmdlines {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		if line := strings.ReplaceAll(string(b), "\x00", " "); strings.Contains(line, path) {
			found = append(found, filepath.Base(filepath.Dir(c))+": "+line)
		}
	}
	return found
}

// Ctrl-C in the middle of a real demo process (during the certificate's
// deployment): exit 130, the directory removed, no process left behind.
func TestDemoInterruptedExits130AndCleansUp(t *testing.T) {
	origins := []string{"builtin"}
	if _, err := exec.LookPath("/usr/sbin/nginx"); err == nil || os.Getenv("AOPWIZARD_REQUIRE_SERVERS") == "1" {
		origins = append(origins, "nginx")
	}
	for _, origin := range origins {
		t.Run(origin, func(t *testing.T) {
			if origin == "nginx" {
				servertest.RequireServer(t, render.Nginx)
			}
			tmp := demoTemp(t)
			cmd := exec.Command(os.Args[0], "demo", "--non-interactive", "--mode", "hostname", "--origin", origin)
			cmd.Env = append(os.Environ(), "AOPWIZARD_TEST_RUN_MAIN=1")
			var stderr pkitest.LockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() { _ = cmd.Process.Kill() }()
			// The hostname associations deploy after the origin is set up
			// (nginx running): the middle of the rollout.
			servertest.Eventually(t, "the demo to reach the enable step", func() error {
				if !strings.Contains(stderr.String(), "enable      … started") {
					return fmt.Errorf("stderr so far:\n%s", stderr.String())
				}
				return nil
			})
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			expectExit(t, exited, &stderr, "Ctrl-C", exitInterrupted, "demo interrupted during")
			if left := entries(t, tmp); len(left) != 0 {
				t.Fatalf("the interrupted demo left %v", left)
			}
			servertest.Eventually(t, "no process left from the demo's directory", func() error {
				if procs := processesMentioning(t, tmp); len(procs) > 0 {
					return fmt.Errorf("still running: %v", procs)
				}
				return nil
			})
		})
	}
}

// `demo --json | head -1`: stdout closes after the first event. The demo
// stops, says why, exits 1 and removes its directory. Before, Go's SIGPIPE
// killed it mid-run and the directory stayed.
func TestDemoStopsAndCleansUpWhenStdoutCloses(t *testing.T) {
	tmp := demoTemp(t)
	cmd := exec.Command(os.Args[0], "demo", "--non-interactive", "--json")
	cmd.Env = append(os.Environ(), "AOPWIZARD_TEST_RUN_MAIN=1")
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr pkitest.LockedBuffer
	cmd.Stdout, cmd.Stderr = wr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	wr.Close()
	line, err := bufio.NewReader(rd).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "{") {
		t.Fatalf("first line %q (%v)\n%s", line, err, stderr.String())
	}
	rd.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	expectExit(t, exited, &stderr, "its stdout closed", exitFailure, "the demo stopped: writing its output failed")
	if left := entries(t, tmp); len(left) != 0 {
		t.Fatalf("the demo left %v in its temporary directory", left)
	}
}

// expectExit waits for the demo process to exit once after (what the test
// did to it) happened, and checks its exit code and that stderr says says.
func expectExit(t *testing.T, exited <-chan error, stderr *pkitest.LockedBuffer, after string, code int, says string) {
	t.Helper()
	var err error
	select {
	case err = <-exited:
	case <-time.After(servertest.Timeout):
		t.Fatalf("the demo did not exit after %s:\n%s", after, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != code {
		t.Fatalf("exit %v after %s, want %d\n%s", err, after, code, stderr.String())
	}
	if !strings.Contains(stderr.String(), says) {
		t.Errorf("after %s stderr does not say %q:\n%s", after, says, stderr.String())
	}
}
