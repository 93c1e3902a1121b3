package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"net/http"
	"net/http/httptest"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps"
)

const runZone = "example.test"

// runLab is cfsim behind the environment the commands read, the builtin
// origin driven in-process through the rollout seam, and a state dir.
type runLab struct {
	sim      *cfsim.Sim
	host     *steps.BuiltinHost
	pki      *pkitest.Lab
	dir      string
	stateDir string
	listen   string
	// edge is cfsim's edge in front of the builtin origin; every run's
	// verify and enforce send a request through it.
	edge   *cfsim.Edge
	edgeCA string
	// srvCert and srvKey are the origin's certificate for the zone's apex
	// and subdomains, which the edge verifies in Full (strict).
	srvCert, srvKey string
}

func newRunLab(t *testing.T, opts cfsim.Options) *runLab {
	return newRunLabWrapped(t, opts, nil)
}

// newRunLabWrapped puts wrap, if set, in front of cfsim's API.
func newRunLabWrapped(t *testing.T, opts cfsim.Options, wrap func(http.Handler) http.Handler) *runLab {
	t.Helper()
	opts.Zones = []string{runZone}
	sim := cfsim.New(opts)
	var h http.Handler = sim.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Setenv(cfapi.EnvAPIToken, sim.Token())
	t.Setenv(cfapi.EnvBaseURL, srv.URL+"/client/v4/")
	t.Setenv(envCAPassphrase, "")
	t.Setenv(envStateDir, "")
	dir := t.TempDir()
	l := &runLab{sim: sim, pki: pkitest.New(t), dir: dir, stateDir: filepath.Join(dir, "state"), listen: freeAddr(t)}
	l.host = &steps.BuiltinHost{ConfigPath: filepath.Join(dir, "conf", "builtin-"+runZone+".json")}
	t.Cleanup(l.host.Close)
	originCAs := x509.NewCertPool()
	originCAs.AddCert(l.pki.ServerCA.Cert)
	edge, err := sim.StartEdge(context.Background(), cfsim.EdgeOptions{Zone: runZone, Origin: l.listen, OriginRootCAs: originCAs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edge.Close() })
	l.edge, l.edgeCA = edge, filepath.Join(dir, "edge-ca.pem")
	l.srvCert, l.srvKey = l.pki.ServerFor(t, "srv-zone", runZone, "*."+runZone)
	if err := os.WriteFile(l.edgeCA, edge.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	rolloutSeams.runner, rolloutSeams.globalCA = l.host, sim.GlobalCAPEM()
	t.Cleanup(func() {
		rolloutSeams.runner, rolloutSeams.globalCA, rolloutSeams.hook, rolloutSeams.rotateHook = nil, nil, nil, nil
	})
	return l
}

// freeAddr is a free 127.0.0.1 address for an origin that a later process
// or step binds. Its port is below the kernel's ephemeral range: a port
// from 127.0.0.1:0 can be handed to any outgoing connection of this machine
// between the close here and the bind there (seen under load: the builtin
// origin's reload failed with "address already in use").
func freeAddr(t *testing.T) string { return servertest.FreeAddr(t) }

// args is a complete headless run for mode on the builtin origin.
func (l *runLab) args(mode string, extra ...string) []string {
	a := []string{"run", "--non-interactive", "--yes", "--state-dir", l.stateDir, "--zone", runZone, "--mode", mode,
		"--server", "builtin", "--config", l.host.ConfigPath, "--test-cmd", steps.BuiltinTestCmd, "--reload-cmd", steps.BuiltinReloadCmd,
		"--listen", l.listen, "--cert", l.srvCert, "--key", l.srvKey,
		"--conf-dir", filepath.Join(l.dir, "conf"), "--access-log", filepath.Join(l.dir, "access.log"),
		"--key-type", "ecdsa-p256", "--no-passphrase", "--systemd=false", "--edge", l.edge.Addr(), "--edge-ca", l.edgeCA}
	return append(a, extra...)
}

func (l *runLab) rolloutIDs(t *testing.T) []string {
	t.Helper()
	list, err := steps.Store{Dir: l.stateDir}.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range list {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestRunHeadlessZoneRolloutStatusAndRollback(t *testing.T) {
	l := newRunLab(t, cfsim.Options{DeployAfter: 1})
	res := runCLI(t, l.args("zone", "--hostname", "origin.example.test", "--enforce", "--auto-revert", "--alerts-email", "ops@example.test")...)
	// Verify (soft) and enforce each prove the rollout through the edge:
	// the edge's cf-ray is found verified in the origin's evidence log.
	res.expect(t, 0, "enforced, verified", "upload", "✓ done", "found in the origin's log with a verified client certificate")
	if n := strings.Count(res.errOut, "found in the origin's log with a verified client certificate"); n != 2 {
		t.Errorf("%d edge proofs, want 2 (soft and enforce):\n%s", n, res.errOut)
	}
	ids := l.rolloutIDs(t)
	if len(ids) != 1 || !l.sim.ZoneAOPEnabled(runZone) || l.sim.Uploads(runZone) != 1 {
		t.Fatalf("rollouts %v, zone AOP %v, uploads %d", ids, l.sim.ZoneAOPEnabled(runZone), l.sim.Uploads(runZone))
	}
	id := ids[0]

	runCLI(t, "status", "--state-dir", l.stateDir).expect(t, 0, id, "enforced, verified")
	runCLI(t, "status", id, "--state-dir", l.stateDir).expect(t, 0, "✓ enforce", "Cloudflare id", "Report:")
	st := runCLI(t, "status", "--state-dir", l.stateDir, "--json")
	var sums []statusSummary
	if err := json.Unmarshal([]byte(st.out), &sums); err != nil || len(sums) != 1 || sums[0].ID != id {
		t.Fatalf("status --json: %v %s", err, st.out)
	}

	runCLI(t, "rollback", id, "--state-dir", l.stateDir).expect(t, 2, "--yes")
	runCLI(t, "rollback", id, "--state-dir", l.stateDir, "--yes").expect(t, 0, "rolled back")
	if l.sim.ZoneAOPEnabled(runZone) || len(l.sim.Policies()) != 0 {
		t.Fatalf("rollback left zone AOP %v, policies %v", l.sim.ZoneAOPEnabled(runZone), l.sim.Policies())
	}
	if _, err := os.Stat(l.host.ConfigPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rollback left the origin config: %v", err)
	}
	runCLI(t, "status", "--state-dir", l.stateDir).expect(t, 0, "rolled back")
}

// Without --enforce: exit 0 soft, verified; resume --enforce finishes. The
// JSON events are one object per line with the documented keys.
func TestRunSoftThenResumeEnforceJSON(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	res := runCLI(t, l.args("hostname", "--hostname", "a.example.test", "--hostname", "b.example.test", "--json")...)
	res.expect(t, 0, "soft, verified; enforce pending", "resume")
	sc := bufio.NewScanner(strings.NewReader(res.out))
	n := 0
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("stdout line is not JSON: %q", sc.Text())
		}
		for _, k := range []string{"time", "rollout", "message"} {
			if _, ok := ev[k]; !ok {
				t.Fatalf("event without %q: %s", k, sc.Text())
			}
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d events", n)
	}
	runCLI(t, "resume", "--non-interactive", "--enforce", "--state-dir", l.stateDir).expect(t, 0, "enforced, verified")
	if l.sim.Uploads(runZone) != 1 {
		t.Fatalf("%d uploads", l.sim.Uploads(runZone))
	}
}

// A run that dies mid-way (the hook stands in for a crash) is finished by
// resume, with one upload.
func TestRunCrashThenResume(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	rolloutSeams.hook = func(s steps.StepName, p steps.HookPoint) error {
		if s == steps.StepUpload && p == steps.AfterRun {
			return errors.New("simulated crash")
		}
		return nil
	}
	runCLI(t, l.args("zone", "--enforce")...).expect(t, 1, "simulated crash")
	rolloutSeams.hook = nil
	runCLI(t, "status", "--state-dir", l.stateDir).expect(t, 0, "upload", "stopped while running")
	runCLI(t, "resume", "--non-interactive", "--state-dir", l.stateDir).expect(t, 0, "found done in the world", "enforced, verified")
	if l.sim.Uploads(runZone) != 1 {
		t.Fatalf("%d uploads", l.sim.Uploads(runZone))
	}
}

// Every missing or invalid input is listed at once, exit 2, before anything
// is touched: no state dir, nothing in cfsim's log.
func TestRunNonInteractiveMissingAndBadInput(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	base := []string{"run", "--non-interactive", "--state-dir", l.stateDir}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		says []string
	}{
		{"nothing", base, nil, []string{"--zone", "--mode", "--yes", "--cert", "--key"}},
		{"no terminal flag", []string{"run", "--zone", runZone}, nil, []string{"--non-interactive"}},
		{"bad zone and mode", append(base, "--zone", "not a zone", "--mode", "sideways", "--yes"), nil, []string{"--zone", "--mode"}},
		{"hostname mode without hostnames", append(base, "--zone", runZone, "--mode", "hostname", "--server", "nginx", "--cert", "c", "--key", "k", "--yes", "--no-passphrase"), nil, []string{"--hostname"}},
		{"hostname outside the zone", append(base, "--zone", runZone, "--mode", "hostname", "--hostname", "www.other.test"), nil, []string{"not in zone"}},
		{"bad origin", append(base, "--zone", runZone, "--mode", "zone", "--origin", "example.test:99999"), nil, []string{"--origin"}},
		{"manual without wait", append(base, "--zone", runZone, "--mode", "zone", "--server", "caddy", "--origin-config", "manual", "--origin", "127.0.0.1"), nil, []string{"--wait-origin", "--cert", "--key"}},
		{"hostname mode without hostnames among other problems", append(base, "--zone", runZone, "--mode", "hostname", "--server", "nginx"), nil, []string{"--hostname", "--yes"}},
		{"managed target without the origin's certificate", append(base, "--zone", runZone, "--mode", "zone", "--server", "nginx", "--target", "managed"), nil, []string{"--cert", "--key"}},
		{"bad target", append(base, "--zone", runZone, "--mode", "zone", "--server", "nginx", "--target", "elsewhere"), nil, []string{"--target"}},
		{"existing target with manual origin config", append(base, "--zone", runZone, "--mode", "zone", "--server", "nginx", "--target", "existing", "--origin-config", "manual"), nil, []string{"--target", "manual"}},
		{"caddy cannot be applied", append(base, "--zone", runZone, "--mode", "zone", "--server", "caddy"), nil, []string{"manual"}},
		{"import incomplete", append(base, "--zone", runZone, "--mode", "zone", "--import-cert", "x.pem"), nil, []string{"--import-key", "--import-ca"}},
		{"global with alerts", append(base, "--zone", runZone, "--mode", "global", "--alerts-email", "ops@example.test"), nil, []string{"--alerts-email"}},
		{"no passphrase", append(base, "--zone", runZone, "--mode", "zone"), nil, []string{"--passphrase-file"}},
		{"no token", append(base, "--zone", runZone), map[string]string{cfapi.EnvAPIToken: ""}, []string{cfapi.EnvAPIToken}},
		{"bad ssl consent", append(base, "--set-ssl-mode", "flexible"), nil, []string{"--set-ssl-mode"}},
		{"auto-revert without enforce", append(base, "--auto-revert"), nil, []string{"--auto-revert"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			res := runCLI(t, c.args...)
			res.expect(t, 2, c.says...)
			if n := len(l.sim.Requests()); n != 0 {
				t.Fatalf("%d requests reached cfsim", n)
			}
			if _, err := os.Stat(l.stateDir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the state dir was created")
			}
		})
	}
}

// --dry-run connects read-only, prints the plan, saves no rollout.
func TestRunDryRun(t *testing.T) {
	l := newRunLab(t, cfsim.Options{SSLMode: "flexible"})
	args := l.args("hostname", "--hostname", "a.example.test", "--dry-run", "--set-ssl-mode", "strict")
	res := runCLI(t, args...)
	res.expect(t, 0, "associate and enable 1 hostname", "Full (strict)", "nothing was changed",
		"the origin config would go: builtin has no existing sites to edit")
	for _, r := range l.sim.Requests() {
		if r.Method != "GET" {
			t.Fatalf("dry run sent %s %s", r.Method, r.Path)
		}
	}
	if ids := l.rolloutIDs(t); len(ids) != 0 || l.sim.SSLMode(runZone) != "flexible" {
		t.Fatalf("dry run saved %v / changed the SSL mode to %s", ids, l.sim.SSLMode(runZone))
	}
}

// SSL mode Full lets the rollout go on with a warning; --set-ssl-mode
// strict, given to run or later to resume, switches it to Full (strict),
// and rollback puts Full back.
func TestRunSSLModeFullSwitchedWithConsent(t *testing.T) {
	for _, later := range []bool{false, true} {
		t.Run(map[bool]string{false: "run", true: "resume"}[later], func(t *testing.T) {
			l := newRunLab(t, cfsim.Options{SSLMode: "full"})
			if later {
				runCLI(t, l.args("zone")...).expect(t, 0, "Full (strict) is recommended", "soft, verified")
				if got := l.sim.SSLMode(runZone); got != "full" {
					t.Fatalf("ssl mode %s without consent", got)
				}
				runCLI(t, "resume", "--non-interactive", "--state-dir", l.stateDir, "--set-ssl-mode", "strict").expect(t, 0, "from full to Full (strict)")
			} else {
				runCLI(t, append(l.args("zone"), "--set-ssl-mode", "strict")...).expect(t, 0, "from full to Full (strict)")
			}
			if got := l.sim.SSLMode(runZone); got != "strict" {
				t.Fatalf("ssl mode %s after the consent", got)
			}
			ids := l.rolloutIDs(t)
			if len(ids) != 1 {
				t.Fatalf("rollouts %v", ids)
			}
			runCLI(t, "rollback", ids[0], "--state-dir", l.stateDir, "--yes").expect(t, 0, "rolled back")
			if got := l.sim.SSLMode(runZone); got != "full" {
				t.Fatalf("ssl mode %s after rollback, want full", got)
			}
		})
	}
}

// SSL mode Flexible blocks with the fix explained (exit 2) unless consent.
func TestRunSSLModePreflight(t *testing.T) {
	l := newRunLab(t, cfsim.Options{SSLMode: "flexible"})
	runCLI(t, l.args("zone")...).expect(t, 2, "flexible", "Full (strict)", "--set-ssl-mode strict")
	runCLI(t, "status", "--state-dir", l.stateDir).expect(t, 0, "connect", "failed")
	runCLI(t, "resume", "--non-interactive", "--state-dir", l.stateDir, "--set-ssl-mode", "strict").expect(t, 0, "soft, verified")
	if l.sim.SSLMode(runZone) != "strict" {
		t.Fatalf("ssl mode %s", l.sim.SSLMode(runZone))
	}
}

// A corrupt or newer rollout file is refused and left as it is.
func TestResumeRefusesCorruptState(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	dir := filepath.Join(l.stateDir, "rollouts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	bad := []byte(`{"schema_version": 99, "id": "future"}`)
	path := filepath.Join(dir, "future.json")
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "resume", "future", "--non-interactive", "--state-dir", l.stateDir).expect(t, 1, "newer aopwizard")
	runCLI(t, "status", "--state-dir", l.stateDir).expect(t, 0, "unreadable")
	if got, _ := os.ReadFile(path); string(got) != string(bad) {
		t.Fatal("the file was changed")
	}
	runCLI(t, "resume", "nope", "--non-interactive", "--state-dir", l.stateDir).expect(t, 2, "no such rollout")
}

// Ctrl-C: the state is saved, exit 130, and resume finishes.
func TestRunInterruptedExits130AndResumes(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rolloutSeams.hook = func(s steps.StepName, p steps.HookPoint) error {
		if s == steps.StepEnable && p == steps.BeforeRun {
			cancel()
		}
		return nil
	}
	var out, errb bytes.Buffer
	if code := execute(ctx, l.args("zone"), &out, &errb); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "state saved") {
		t.Fatalf("no word of the saved state:\n%s", errb.String())
	}
	rolloutSeams.hook = nil
	runCLI(t, "resume", "--non-interactive", "--state-dir", l.stateDir).expect(t, 0, "soft, verified")
}

func TestRotateCommand(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	runCLI(t, l.args("hostname", "--hostname", "a.example.test", "--enforce")...).expect(t, 0, "enforced, verified")
	runCLI(t, "rotate", "--state-dir", l.stateDir).expect(t, 2, "--yes")
	runCLI(t, "rotate", "--state-dir", l.stateDir, "--yes").expect(t, 0, "rotated", "rotation complete")
	if n := l.sim.Uploads(runZone); n != 2 {
		t.Fatalf("%d uploads", n)
	}
	runCLI(t, l.args("global", "--enforce")...).expect(t, 0, "enforced, verified")
	ids := l.rolloutIDs(t)
	runCLI(t, "rotate", ids[0], "--state-dir", l.stateDir, "--yes").expect(t, 2, "Cloudflare rotates")
}

// closesAfterLine is a stdout that takes one line, then fails as a pipe
// whose reader went away does (run --json | head -1).
type closesAfterLine struct{ lines int }

func (w *closesAfterLine) Write(p []byte) (int, error) {
	if w.lines > 0 {
		return 0, syscall.EPIPE
	}
	w.lines += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// run's output closing stops the rollout as Ctrl-C does: exit 130, the
// state saved, and resume finishes it.
func TestRunStopsWhenItsOutputCloses(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	var errb bytes.Buffer
	code := execute(context.Background(), l.args("zone", "--enforce", "--json"), &closesAfterLine{}, &errb)
	if code != exitInterrupted || !strings.Contains(errb.String(), "the rollout stopped: writing its output failed") {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, errb.String())
	}
	if ids := l.rolloutIDs(t); len(ids) != 1 {
		t.Fatalf("rollouts saved: %v", ids)
	}
	runCLI(t, "resume", "--non-interactive", "--state-dir", l.stateDir).expect(t, 0, "enforced, verified")
}
