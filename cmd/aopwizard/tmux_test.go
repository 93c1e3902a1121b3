package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps"
	"github.com/aopwizard/aopwizard/steps/demo"
)

// tmuxTimeout bounds each wait for a screen: generous, so it holds on two
// busy cores.
const tmuxTimeout = 60 * time.Second

// tmuxSession is the real binary in a detached tmux session of its own
// server (its socket in the test's directory), at a fixed size.
type tmuxSession struct {
	t      *testing.T
	socket string
	dir    string
	runs   int
}

// needTmux skips without tmux, unless AOPWIZARD_REQUIRE_SERVERS=1 (CI),
// where a missing tmux fails.
func needTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("AOPWIZARD_REQUIRE_SERVERS") == "1" {
			t.Fatalf("tmux is required (AOPWIZARD_REQUIRE_SERVERS=1): %v", err)
		}
		t.Skipf("tmux not installed: %v", err)
	}
}

// buildBinary builds aopwizard into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "aopwizard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func newTmux(t *testing.T) *tmuxSession {
	t.Helper()
	needTmux(t)
	dir := t.TempDir()
	s := &tmuxSession{t: t, socket: filepath.Join(dir, "tmux.sock"), dir: dir}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.socket, "kill-server").Run() })
	// A session of its own keeps the server up while start replaces the
	// binary's session: killing the only session ends the server, and a
	// new-session right after can reach the server on its way out and fail
	// (seen under load).
	s.tmux("new-session", "-d", "-s", "keep", "sleep 600")
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start runs argv with env in a new window of 100x30; its exit code goes
// to a file that exitCode reads. The shell stays (sleep) so the pane keeps
// the program's last lines: with remain-on-exit instead, tmux drops what a
// program prints just before it exits.
func (s *tmuxSession) start(env []string, argv ...string) {
	s.t.Helper()
	s.runs++
	quoted := make([]string, 0, len(env)+len(argv))
	for _, a := range append(append([]string{}, env...), argv...) {
		quoted = append(quoted, strconv.Quote(a))
	}
	rc := s.rcFile()
	line := "env " + strings.Join(quoted, " ") + "; echo $? > " + strconv.Quote(rc+".tmp") + " && mv " + strconv.Quote(rc+".tmp") + " " + strconv.Quote(rc) + "; sleep 600"
	if s.runs > 1 {
		s.tmux("kill-session", "-t", "w")
	}
	s.tmux("new-session", "-d", "-s", "w", "-x", "100", "-y", "30", line)
}

func (s *tmuxSession) rcFile() string { return filepath.Join(s.dir, fmt.Sprintf("rc%d", s.runs)) }

// screen is what the pane shows now.
func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p", "-t", "w") }

// waitFor polls the pane until it shows every one of texts.
func (s *tmuxSession) waitFor(texts ...string) {
	s.t.Helper()
	deadline := time.Now().Add(tmuxTimeout)
	for {
		scr := s.screen()
		ok := true
		for _, x := range texts {
			ok = ok && strings.Contains(scr, x)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %q; it shows:\n%s", texts, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// planToUpload takes the wizard from the origin server question of the
// plan screen to an uploaded certificate with every default accepted (the
// builtin origin, no passphrase); alerts, when set, is the alert address
// the plan screen must show.
func (s *tmuxSession) planToUpload(alerts string) {
	s.t.Helper()
	for _, step := range [][]string{
		{"Origin server", "builtin"}, {"Origin addresses"}, {"Origin TLS certificate"}, {"Origin TLS key"},
		{"Expiry alert email", alerts}, {"Nothing has changed yet"},
		{"Generate a new CA"}, {"key passphrase"}, {"Passphrase again"}, {"certificate ready"}, {"to upload."},
	} {
		s.waitFor(step...)
		s.keys("Enter")
	}
	s.waitFor("uploaded and active")
}

// keys sends tmux key names (Enter, C-c, Down) one by one.
// softToEnforced walks from the origin screen to enforced: apply, enable,
// verify (with the edge proof), enforce.
func (s *tmuxSession) softToEnforced() {
	s.waitFor("soft phase")
	s.keys("a")
	s.waitFor("origin asks for")
	s.keys("Enter")
	s.waitFor("to enable.")
	s.keys("Enter")
	s.waitFor("turned zone-level AOP on")
	s.keys("Enter")
	s.waitFor("checks pass", "cf-ray")
	s.keys("Enter")
	s.waitFor("to stay in soft mode")
	s.keys("y")
	s.waitFor("the origin refuses clients without")
	s.keys("Enter")
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		s.tmux("send-keys", "-t", "w", k)
	}
}

// typeText sends literal text.
func (s *tmuxSession) typeText(text string) {
	s.t.Helper()
	s.tmux("send-keys", "-t", "w", "-l", text)
}

func (s *tmuxSession) resize(w, h int) {
	s.t.Helper()
	s.tmux("resize-window", "-t", "w", "-x", strconv.Itoa(w), "-y", strconv.Itoa(h))
}

// exitCode waits for the command to end and returns its exit code.
func (s *tmuxSession) exitCode() int {
	s.t.Helper()
	deadline := time.Now().Add(tmuxTimeout)
	for {
		b, err := os.ReadFile(s.rcFile())
		if err == nil {
			n, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				s.t.Fatal(err)
			}
			return n
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the command did not end (the pane runs %s); the screen shows:\n%s",
				s.tmux("display-message", "-p", "-t", "w", "#{pane_current_command}"), s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// simProcess is `aopwizard sim` with its edge in front of origin.
type simProcess struct {
	info   simInfo
	edgeCA string
}

func startSimProcess(t *testing.T, bin, dir, origin, originCA string) *simProcess {
	t.Helper()
	cmd := exec.Command(bin, "sim", "--listen", "127.0.0.1:0", "--zone", runZone, "--ssl-mode", "strict", "--deploy-after", "1",
		"--edge-listen", "127.0.0.1:0", "--edge-origin", origin, "--origin-ca", originCA)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
	p := &simProcess{edgeCA: filepath.Join(dir, "edge-ca.pem")}
	if err := json.Unmarshal(line, &p.info); err != nil || p.info.Edge == "" {
		t.Fatalf("sim said %s (%v)", line, err)
	}
	if err := os.WriteFile(p.edgeCA, []byte(p.info.EdgeCAPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTmuxWizardCtrlCThenResume drives the real binary in tmux against
// `aopwizard sim` (API and edge) and the builtin origin served by the
// wizard itself: `run` on a terminal starts the wizard with the flags as
// its defaults; a resize to 40x12 and back mid-flow; Ctrl-C exits 130;
// `aopwizard` again offers the rollout where it stopped; `aopwizard resume`
// opens it there and finishes it, enforced and verified through the edge.
func TestTmuxWizardCtrlCThenResume(t *testing.T) {
	s := newTmux(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	lab := pkitest.New(t)
	listen := freeAddr(t)
	sim := startSimProcess(t, bin, dir, listen, lab.Path(pkitest.ServerCAFile))
	srvCert, srvKey := lab.ServerFor(t, "srv-zone", runZone, "*."+runZone)
	stateDir := filepath.Join(dir, "state")
	t.Cleanup(func() {
		if b, err := os.ReadFile(filepath.Join(stateDir, "wizard.log")); t.Failed() && err == nil {
			t.Logf("wizard.log:\n%s", b)
		}
	})
	env := []string{cfapi.EnvAPIToken + "=" + sim.info.Token, cfapi.EnvBaseURL + "=" + sim.info.APIURL,
		"TERM=xterm-256color", "NO_COLOR=1", envStateDir + "=" + stateDir}

	s.start(env, bin, "run", "--server", "builtin", "--config", filepath.Join(dir, "conf", "builtin-"+runZone+".json"),
		"--test-cmd", steps.BuiltinTestCmd, "--reload-cmd", steps.BuiltinReloadCmd, "--listen", listen,
		"--cert", srvCert, "--key", srvKey, "--conf-dir", filepath.Join(dir, "conf"), "--access-log", filepath.Join(dir, "access.log"),
		"--key-type", "ecdsa-p256", "--systemd=false", "--edge", sim.info.Edge, "--edge-ca", sim.edgeCA)
	s.waitFor("Start a new rollout")
	s.keys("Enter")
	s.waitFor("Connect to Cloudflare")
	s.typeText(runZone)
	s.keys("Enter")
	s.waitFor("SSL/TLS mode: strict")
	s.keys("Enter")
	s.waitFor("Plan the rollout", "Zone: your own CA")
	s.keys("Enter")
	s.waitFor("Hostnames")
	s.typeText("www." + runZone)
	s.keys("Enter")
	s.planToUpload("")

	// Narrow and short: the one-line header with the step count, no
	// sidebar; then back, with the sidebar.
	s.resize(40, 12)
	s.waitFor("Upload 4/9")
	if scr := s.screen(); strings.Contains(scr, "Certificate ✓ done") {
		t.Fatalf("the sidebar shows at 40 columns:\n%s", scr)
	}
	s.resize(100, 30)
	s.waitFor("uploaded and active", "Upload      ✓ done")

	s.keys("C-c")
	if rc := s.exitCode(); rc != 130 {
		t.Fatalf("ctrl+c exited %d, want 130; the screen shows:\n%s", rc, s.screen())
	}

	s.start(env, bin)
	s.waitFor("Resume an unfinished rollout", runZone+" · zone mode · at origin", "waits for the origin")
	s.keys("C-c")
	if rc := s.exitCode(); rc != 130 {
		t.Fatalf("ctrl+c on the start screen exited %d", rc)
	}

	// `resume` opens the only unfinished rollout at once.
	s.start(env, bin, "resume")
	s.softToEnforced()
	s.waitFor("undo everything this rollout changed")
	s.keys("Enter")
	if rc := s.exitCode(); rc != 0 {
		t.Fatalf("the resumed wizard exited %d; the screen shows:\n%s", rc, s.screen())
	}
	list, err := steps.Store{Dir: stateDir}.List()
	if err != nil || len(list) != 1 || list[0].Rollout == nil || list[0].Rollout.Outcome != steps.OutcomeEnforcedEdge {
		t.Fatalf("rollouts %+v (%v)", list, err)
	}
}

// TestTmuxDemoToTheEnd drives `aopwizard demo` (the wizard on the demo's
// world: cfsim in-process, the builtin origin, a temporary directory) in
// tmux from the start screen to "enforced, verified through the edge",
// with a resize to 40x12 and back mid-flow.
func TestTmuxDemoToTheEnd(t *testing.T) {
	s := newTmux(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	s.start([]string{"TERM=xterm-256color", "NO_COLOR=1", "TMPDIR=" + dir}, bin, "demo")
	s.waitFor("DEMO · the Cloudflare side is simulated", "Start a new rollout")
	s.keys("Enter")
	s.waitFor("Connect to Cloudflare", demo.Zone)
	s.keys("Enter")
	s.waitFor("SSL/TLS mode: strict")
	s.keys("Enter")
	s.waitFor("Plan the rollout", "Zone: your own CA")
	s.keys("Enter")
	s.waitFor("Hostnames", demo.Hostnames[1])
	s.keys("Enter")
	s.planToUpload(demo.AlertsEmail)

	s.resize(40, 12)
	s.waitFor("DEMO · Cloudflare is simulated", "Upload 4/10")
	s.resize(100, 30)
	s.waitFor("DEMO · the Cloudflare side is simulated", "Upload      ✓ done")

	s.keys("Enter")
	s.softToEnforced()
	s.waitFor("Create a notification policy that emails " + demo.AlertsEmail)
	s.keys("Enter")
	s.waitFor("│ ✓ done")
	s.keys("Enter")
	s.waitFor("aopwizard demo --keep")
	s.keys("Enter")
	s.waitFor("enforced, verified through the edge")
	if rc := s.exitCode(); rc != 0 {
		t.Fatalf("the demo exited %d; the screen shows:\n%s", rc, s.screen())
	}
}

// screenJoined is the pane with the lines the terminal wrapped joined:
// what a program printed, however long its lines.
func (s *tmuxSession) screenJoined() string {
	return s.tmux("capture-pane", "-p", "-J", "-t", "w")
}

// TestTmuxDemoCtrlCSaysStartANewOne: Ctrl-C in `aopwizard demo` exits 130
// and says the demo cannot be resumed (its Cloudflare lived in that
// process) but `aopwizard demo` starts a new one; its temporary directory
// is removed, or with --keep kept and named.
func TestTmuxDemoCtrlCSaysStartANewOne(t *testing.T) {
	s := newTmux(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	for _, keep := range []bool{false, true} {
		tmp := filepath.Join(dir, fmt.Sprintf("tmp-keep-%v", keep))
		if err := os.Mkdir(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		argv := []string{bin, "demo"}
		if keep {
			argv = append(argv, "--keep")
		}
		s.start([]string{"TERM=xterm-256color", "NO_COLOR=1", "TMPDIR=" + tmp}, argv...)
		s.waitFor("Start a new rollout")
		s.keys("Enter")
		s.waitFor("Connect to Cloudflare", demo.Zone)
		s.keys("Enter")
		s.waitFor("SSL/TLS mode: strict")
		s.keys("C-c")
		if rc := s.exitCode(); rc != exitInterrupted {
			t.Fatalf("ctrl+c in the demo exited %d; the screen shows:\n%s", rc, s.screenJoined())
		}
		scr := s.screenJoined()
		for _, want := range []string{"demo interrupted during plan", "simulated Cloudflare lived only in this process",
			"nothing to resume", "aopwizard demo starts a new demo"} {
			if !strings.Contains(scr, want) {
				t.Fatalf("keep %v: the screen does not say %q:\n%s", keep, want, scr)
			}
		}
		left := entries(t, tmp)
		switch {
		case !keep && len(left) != 0:
			t.Fatalf("the interrupted demo left %v in its temporary directory", left)
		case keep && len(left) != 1:
			t.Fatalf("--keep: the temporary directory holds %v, want the demo's directory", left)
		case keep && !strings.Contains(scr, "kept in "+filepath.Join(tmp, left[0])):
			t.Fatalf("--keep: the screen does not say where the files are (%s):\n%s", left[0], scr)
		}
	}
}
