// Package servertest starts real nginx, Apache and HAProxy processes for
// tests, from a main config in a temp dir, on 127.0.0.1 high ports. It
// waits for the listeners instead of sleeping, and stops every server it
// started when the test ends, waiting for its ports to close
// (docs/origin-servers.md, "Test harness").
package servertest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// RequireEnv makes a missing server binary fail tests instead of skipping
// them; CI sets it.
const RequireEnv = "AOPWIZARD_REQUIRE_SERVERS"

// Timeout bounds every wait of the harness: server starts take 30–130 ms,
// so this only matters when something is broken.
const Timeout = 15 * time.Second

// Require skips the test when binary is missing, or fails it when
// AOPWIZARD_REQUIRE_SERVERS=1.
func Require(t testing.TB, binary string) {
	t.Helper()
	if _, err := exec.LookPath(binary); err == nil {
		return
	}
	msg := fmt.Sprintf("%s not installed (apt-get install nginx apache2 haproxy)", binary)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1 requires it", msg, RequireEnv)
	}
	t.Skip(msg + "; skipping the real-server test")
}

// RequireServer is Require for the Debian binary of a server kind.
func RequireServer(t testing.TB, kind render.Server) *server.Driver {
	t.Helper()
	d, err := server.Debian(kind)
	if err != nil {
		t.Fatal(err)
	}
	Require(t, d.Binary)
	return d
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server the test starts next (server.FreeLoopbackAddr says how it is
// picked).
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, err := net.SplitHostPort(FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return n
}

// FreeAddr is FreePort as 127.0.0.1:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := server.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Dir makes a temp dir that unprivileged server workers can traverse:
// t.TempDir and its per-test parent are 0700, but nginx workers run as
// nobody and Apache's as www-data.
func Dir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Running is a server a test started.
type Running struct {
	Kind   render.Server
	Driver *server.Driver // standalone driver: use it for Test and Reload
	Addrs  []string       // every listen address found in the config
	Addr   string         // the first of Addrs, as host:port
	// PIDFile is the master's pid file; ErrorLog is where the server
	// reports startup and reload problems.
	PIDFile, ErrorLog string

	// Stdout is where HAProxy's stdout goes (HAProxy only): with
	// render.Standalone's "log stdout", the evidence (aop1) lines. It is
	// ErrorLog unless the Stdout option names another file.
	Stdout string

	t       testing.TB
	cmd     *exec.Cmd     // HAProxy only: the foreground master
	exited  chan struct{} // closed when cmd has been reaped
	stopped bool
}

// Option adjusts how Start runs a server.
type Option func(*Running)

// Stdout sends HAProxy's stdout to path, apart from its own messages on
// stderr (ErrorLog). render.Standalone logs HAProxy's evidence to stdout and
// tells the operator to redirect it to the spec's AccessLog: pass that path
// here to run it exactly so. nginx and Apache daemonise and log to files,
// so it changes nothing for them.
func Stdout(path string) Option { return func(r *Running) { r.Stdout = path } }

// Start starts kind from mainConfigPath, waits until every listen address
// in the config (and the files it includes) accepts connections, and stops
// the server when the test ends. It skips or fails per Require when the
// binary is missing, and fails the test if the server does not come up,
// quoting its error log.
func Start(t testing.TB, kind render.Server, mainConfigPath string, opts ...Option) *Running {
	t.Helper()
	RequireServer(t, kind)
	d, err := server.Standalone(kind, mainConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(kind, mainConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Addrs) == 0 {
		t.Fatalf("no listen address found in %s or its includes", mainConfigPath)
	}
	r := &Running{Kind: kind, Driver: d, Addrs: info.Addrs, Addr: info.Addrs[0], PIDFile: info.PIDFile, ErrorLog: info.ErrorLog, t: t}
	for _, o := range opts {
		o(r)
	}
	switch kind {
	case render.Nginx:
		if r.ErrorLog != "" {
			d.ErrorLog = r.ErrorLog
		} else {
			r.ErrorLog = d.ErrorLog
		}
	case render.HAProxy:
		// The error log render.Standalone's start command names.
		r.PIDFile, r.ErrorLog = d.PIDFile, filepath.Join(filepath.Dir(mainConfigPath), "error.log")
		if r.Stdout == "" {
			r.Stdout = r.ErrorLog
		}
	}
	if r.PIDFile == "" {
		t.Fatalf("no pid file directive in %s: the harness needs it to stop the server", mainConfigPath)
	}
	if err := r.start(); err != nil {
		t.Fatalf("start %s: %v\n%s", kind, err, r.ErrorTail())
	}
	t.Cleanup(r.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for _, a := range r.Addrs {
		if err := WaitPort(ctx, a, true); err != nil {
			r.Stop()
			t.Fatalf("%s did not start listening on %s: %v\n%s", kind, a, err, r.ErrorTail())
		}
	}
	// nginx and Apache listen before they write the pid file that Stop
	// and their reload commands read.
	for {
		if _, err := server.ReadPID(r.PIDFile); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			r.Stop()
			t.Fatalf("%s wrote no pid file %s: %v\n%s", kind, r.PIDFile, ctx.Err(), r.ErrorTail())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if kind == render.HAProxy {
		// The worker listens before the master can take a reload: a USR2
		// before "Loading success." is lost.
		if err := r.waitLog(ctx, "Loading success."); err != nil {
			r.Stop()
			t.Fatalf("haproxy master not ready: %v\n%s", err, r.ErrorTail())
		}
	}
	return r
}

// waitLog polls the server's output until it contains s.
func (r *Running) waitLog(ctx context.Context, s string) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(r.ErrorLog); err == nil && strings.Contains(string(b), s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%q not logged: %w", s, ctx.Err())
		case <-tick.C:
		}
	}
}

func (r *Running) start() error {
	argv := r.Driver.StartArgv()
	cmd := exec.Command(argv[0], argv[1:]...)
	if r.Kind != render.HAProxy {
		// nginx and Apache daemonise; the parent exits once the config is
		// loaded, so its exit code and output are the start result.
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", server.Quote(argv), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	// Files, not pipes, so Wait never blocks on a worker holding them.
	stderr, err := os.OpenFile(r.ErrorLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stderr.Close()
	// One file description when both go to one file: HAProxy sets
	// O_NONBLOCK on its log fd with F_SETFL, which clears O_APPEND, so a
	// second description would overwrite the first's lines from offset 0.
	stdout := stderr
	if r.Stdout != r.ErrorLog {
		if stdout, err = os.OpenFile(r.Stdout, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
		defer stdout.Close()
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	r.cmd, r.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	return nil
}

// Stop stops the server by the pid in its pid file and waits until its
// ports close. It runs on t.Cleanup and may be called earlier.
func (r *Running) Stop() {
	if r.stopped {
		return
	}
	r.stopped = true
	sig := syscall.SIGTERM
	if r.Kind == render.Nginx {
		sig = syscall.SIGQUIT // graceful: workers finish, then the pid file goes
	}
	pid, err := server.ReadPID(r.PIDFile)
	switch {
	case err == nil:
		_ = syscall.Kill(pid, sig)
	case r.cmd != nil:
		_ = r.cmd.Process.Signal(sig)
	default:
		r.t.Errorf("stop %s: %v; the server may still run", r.Kind, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	for _, a := range r.Addrs {
		if err := WaitPort(ctx, a, false); err != nil {
			r.t.Errorf("%s still listening on %s after stop: %v", r.Kind, a, err)
		}
	}
	if r.exited != nil {
		select {
		case <-r.exited:
		case <-ctx.Done():
			r.t.Errorf("%s master did not exit after stop", r.Kind)
		}
	}
}

// Test runs the server's config test with a quiet runner.
func (r *Running) Test(ctx context.Context) error {
	return r.Driver.Test(ctx, server.NewExecRunner(nil))
}

// Reload asks the server to reload. For nginx and Apache it returns once
// the request was delivered; poll the listener for the effect. For HAProxy
// it returns once the master has loaded the new generation: HAProxy 2.6
// loses a USR2 that arrives while the master is busy (about one reload in
// ten when reloads follow each other, more on a loaded machine;
// docs/origin-servers.md, "Reloads are asynchronous"). Measured here: a
// USR2 sent within a few milliseconds of the start's "Loading success." is
// lost every time, and under load the same happened to
// TestStartReloadStop/haproxy, which then polled the old config until its
// deadline ("still failing after 15s: body first").
// The master logs "Reloading HAProxy" when it takes the signal, so USR2 is
// sent again, with a growing wait, only while that line has not appeared.
func (r *Running) Reload(ctx context.Context) error {
	if r.Kind != render.HAProxy {
		return r.Driver.Reload(ctx, server.NewExecRunner(nil))
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	before := r.haproxyLog()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for wait := 500 * time.Millisecond; ; wait *= 2 {
		if err := r.Driver.Reload(ctx, server.NewExecRunner(nil)); err != nil {
			return err
		}
		resend := time.After(wait)
	poll:
		for {
			now := r.haproxyLog()
			switch {
			case now.failures > before.failures:
				return fmt.Errorf("haproxy reload: the new config failed to load\n%s", r.ErrorTail())
			case now.loaded > before.loaded && now.reloads > before.reloads:
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("haproxy did not reload: %w\n%s", ctx.Err(), r.ErrorTail())
			case <-resend:
				if now.reloads == before.reloads {
					break poll // the signal was lost: send it again
				}
			case <-tick.C:
			}
		}
	}
}

// haproxyCounts counts the HAProxy master's reload milestones in its log.
type haproxyCounts struct{ reloads, loaded, failures int }

func (r *Running) haproxyLog() haproxyCounts {
	b, _ := os.ReadFile(r.ErrorLog)
	s := string(b)
	return haproxyCounts{
		reloads:  strings.Count(s, "Reloading HAProxy"),
		loaded:   strings.Count(s, "Loading success."),
		failures: strings.Count(s, "Loading failure!"),
	}
}

// ErrorTail returns the end of the server's error log, for failure messages.
func (r *Running) ErrorTail() string {
	b, err := os.ReadFile(r.ErrorLog)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return r.ErrorLog + ":\n" + s
}

// WaitPort polls addr until it accepts TCP connections (open) or refuses
// them (!open), or ctx ends.
func WaitPort(ctx context.Context, addr string, open bool) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		if (err == nil) == open {
			return nil
		}
		select {
		case <-ctx.Done():
			if open {
				return fmt.Errorf("port %s not open: %w", addr, errors.Join(ctx.Err(), err))
			}
			return fmt.Errorf("port %s still open: %w", addr, ctx.Err())
		case <-tick.C:
		}
	}
}

// Eventually polls cond until it returns nil or Timeout passes, then fails
// the test with cond's last error. Use it for effects of a reload, which
// land asynchronously.
func Eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %v: %v", what, Timeout, err)
		}
		<-tick.C
	}
}

// Info is what the harness reads from a server config.
type Info struct {
	Addrs    []string // listen addresses, host:port, deduplicated, in order
	PIDFile  string
	ErrorLog string
}

var (
	nginxListen  = regexp.MustCompile(`(?m)(?:^|[;{])\s*listen\s+([^\s;]+)`)
	nginxPID     = regexp.MustCompile(`(?m)^\s*pid\s+([^\s;]+)\s*;`)
	nginxErrLog  = regexp.MustCompile(`(?m)^\s*error_log\s+([^\s;]+)`)
	nginxInclude = regexp.MustCompile(`(?m)(?:^|[;{])\s*include\s+([^\s;]+)\s*;`)
	apListen     = regexp.MustCompile(`(?mi)^\s*Listen\s+(\S+)`)
	apPID        = regexp.MustCompile(`(?mi)^\s*PidFile\s+"?([^\s"]+)`)
	apErrLog     = regexp.MustCompile(`(?mi)^\s*ErrorLog\s+"?([^\s"]+)`)
	apInclude    = regexp.MustCompile(`(?mi)^\s*Include(?:Optional)?\s+"?([^\s"]+)`)
	hapBind      = regexp.MustCompile(`(?m)^\s*bind\s+(\S+)`)
	hapPID       = regexp.MustCompile(`(?m)^\s*pidfile\s+(\S+)`)
)

// Inspect reads the listen addresses, pid file and error log of a config
// and the files it includes. It is a line scanner for the configs origin/
// renders, not a full parser.
func Inspect(kind render.Server, mainConfig string) (*Info, error) {
	var listen, pid, errLog, include *regexp.Regexp
	switch kind {
	case render.Nginx:
		listen, pid, errLog, include = nginxListen, nginxPID, nginxErrLog, nginxInclude
	case render.Apache:
		listen, pid, errLog, include = apListen, apPID, apErrLog, apInclude
	case render.HAProxy:
		listen, pid = hapBind, hapPID
	default:
		return nil, fmt.Errorf("servertest: unsupported server %q", kind)
	}
	info := &Info{}
	seen := map[string]bool{}
	files := []string{mainConfig}
	for i := 0; i < len(files); i++ {
		b, err := os.ReadFile(files[i])
		if err != nil {
			return nil, err
		}
		text := stripComments(string(b))
		for _, m := range listen.FindAllStringSubmatch(text, -1) {
			if a := server.DialAddr(m[1]); a != "" && !seen[a] {
				seen[a] = true
				info.Addrs = append(info.Addrs, a)
			}
		}
		if m := pid.FindStringSubmatch(text); m != nil && info.PIDFile == "" {
			info.PIDFile = m[1]
		}
		if errLog != nil {
			if m := errLog.FindStringSubmatch(text); m != nil && info.ErrorLog == "" {
				info.ErrorLog = m[1]
			}
		}
		if include == nil {
			continue
		}
		for _, m := range include.FindAllStringSubmatch(text, -1) {
			pattern := m[1]
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(mainConfig), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			files = append(files, matches...)
		}
	}
	return info, nil
}

func stripComments(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines[i] = ""
		}
	}
	return strings.Join(lines, "\n")
}
