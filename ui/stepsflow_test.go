package ui

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps"
)

const simZone = "example.test"

// simLab is the real flow against cfsim (API and edge) and the builtin
// origin run in-process, as the demo and the headless tests wire them.
type simLab struct {
	sim      *cfsim.Sim
	edge     *cfsim.Edge
	stateDir string
	opts     StepsFlowOptions
}

func newSimLab(t *testing.T) *simLab { return newSimLabSSL(t, cfapi.SSLStrict) }

// newSimLabSSL is the lab with the zone's SSL/TLS mode at ssl.
func newSimLabSSL(t *testing.T, ssl string) *simLab {
	t.Helper()
	sim := cfsim.New(cfsim.Options{Zones: []string{simZone}, SSLMode: ssl, DeployAfter: 1})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	lab := pkitest.New(t)
	listen := servertest.FreeAddr(t)
	host := &steps.BuiltinHost{ConfigPath: filepath.Join(dir, "conf", "builtin-"+simZone+".json")}
	t.Cleanup(host.Close)
	originCAs := x509.NewCertPool()
	originCAs.AddCert(lab.ServerCA.Cert)
	edge, err := sim.StartEdge(context.Background(), cfsim.EdgeOptions{Zone: simZone, Origin: listen, OriginRootCAs: originCAs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edge.Close() })
	edgeCA := filepath.Join(dir, "edge-ca.pem")
	if err := os.WriteFile(edgeCA, edge.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	srvCert, srvKey := lab.ServerFor(t, "srv-zone", simZone, "*."+simZone)
	off := false
	l := &simLab{sim: sim, edge: edge, stateDir: filepath.Join(dir, "state")}
	l.opts = StepsFlowOptions{
		StateDir: l.stateDir,
		Env: steps.EnvOptions{Config: cfapi.Config{Token: sim.Token(), BaseURL: srv.URL + "/client/v4/", PollInterval: 20 * time.Millisecond},
			StateDir: l.stateDir, Runner: host, GlobalCAPEM: sim.GlobalCAPEM()},
		Defaults: steps.Inputs{Server: "builtin", KeyType: "ecdsa-p256", Edge: steps.EdgeInputs{Addr: edge.Addr(), CAFile: edgeCA},
			Origin: steps.OriginInputs{Listen: listen, ServerCert: srvCert, ServerKey: srvKey, ConfDir: filepath.Join(dir, "conf"),
				Config: host.ConfigPath, TestCmd: steps.BuiltinTestCmd, ReloadCmd: steps.BuiltinReloadCmd,
				AccessLog: filepath.Join(dir, "access.log"), Systemd: &off}},
	}
	return l
}

func (l *simLab) program(t *testing.T) (*teatest.TestModel, *StepsFlow) {
	t.Helper()
	f := NewStepsFlow(l.opts)
	t.Cleanup(f.Close)
	m := New(context.Background(), f, Options{Token: l.sim.Token()})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	return tm, f
}

// rollout reads the one rollout of the lab's state dir.
func (l *simLab) rollout(t *testing.T) *steps.Rollout {
	t.Helper()
	all, err := steps.Store{Dir: l.stateDir}.List()
	if err != nil || len(all) != 1 || all[0].Rollout == nil {
		t.Fatalf("rollouts %+v, %v", all, err)
	}
	return all[0].Rollout
}

func down(tm driver) { tm.Send(tea.KeyPressMsg{Code: tea.KeyDown}) }

// connectAndPlan drives the connect and plan screens for mode (the index
// of its option: 0 zone, 1 hostname, 2 global).
func connectAndPlan(t *testing.T, tm driver, mode int) {
	t.Helper()
	waitFor(t, tm, "Connect to Cloudflare")
	tm.Type(simZone)
	enter(tm)
	waitFor(t, tm, "SSL/TLS mode: strict")
	enter(tm)
	waitFor(t, tm, "Plan the rollout")
	for range mode {
		down(tm)
	}
	enter(tm)
	waitFor(t, tm, "Hostnames")
	tm.Send(tea.PasteMsg{Content: "www." + simZone})
	enter(tm)
	waitFor(t, tm, "Origin server")
	enter(tm)
	enter(tm)
	// The builtin origin serves aopwizard's own block: run's certificate
	// and key are offered, and taken.
	waitFor(t, tm, "Origin TLS key")
	enter(tm)
	enter(tm)
	if mode != 2 {
		enter(tm) // no alert address
	}
	waitFor(t, tm, "Nothing has changed yet")
	enter(tm)
}

// certificateToEnd drives the rest, from the certificate screen to done;
// enabled are the texts of which one shows once enable is done.
func certificateToEnd(t *testing.T, tm driver, global bool, enabled ...string) {
	t.Helper()
	if !global {
		waitFor(t, tm, "Generate a new CA")
		enter(tm)
		waitFor(t, tm, "key passphrase")
		enter(tm) // no passphrase, twice
		enter(tm)
		waitFor(t, tm, "certificate ready")
		enter(tm)
		waitFor(t, tm, "to upload.")
		enter(tm)
		waitFor(t, tm, "uploaded and active")
		enter(tm)
	} else {
		waitFor(t, tm, "shared certificate: nothing to generate")
		enter(tm)
		waitFor(t, tm, "certificate ready")
		enter(tm)
	}
	originToEnd(t, tm, enabled)
}

func originToEnd(t *testing.T, tm driver, enabled []string) {
	t.Helper()
	waitFor(t, tm, "soft phase")
	tm.Type("a")
	waitFor(t, tm, "origin asks for")
	enter(tm)
	waitFor(t, tm, "to enable.")
	enter(tm)
	waitDoneAny(t, tm, enabled...)
	enter(tm)
	waitFor(t, tm, "checks pass", "Enforcing next would mean")
	enter(tm)
	waitFor(t, tm, "to stay in soft mode")
	tm.Type("y")
	waitFor(t, tm, "the origin refuses clients without")
	enter(tm)
	waitFor(t, tm, "undo everything this rollout changed")
	enter(tm)
}

// TestStepsFlowModesStartToDone drives the real program over the real
// flow, cfsim and the builtin origin, in each mode, from the start screen
// to done: enforced, verified through the edge.
func TestStepsFlowModesStartToDone(t *testing.T) {
	for i, mode := range []string{"zone", "hostname", "global"} {
		t.Run(mode, func(t *testing.T) {
			l := newSimLab(t)
			tm, _ := l.program(t)
			waitFor(t, tm, "Start a new rollout")
			enter(tm)
			connectAndPlan(t, tm, i)
			certificateToEnd(t, tm, mode == "global", "AOP on", "association is active")
			fm := tm.FinalModel(t, teatest.WithFinalTimeout(60*time.Second)).(*Model)
			if fm.Err() != nil {
				t.Fatal(fm.Err())
			}
			r := l.rollout(t)
			if r.Outcome != steps.OutcomeEnforcedEdge || !r.Finished() || string(r.Inputs.Mode) != mode {
				t.Fatalf("rollout %s mode %s: %q, steps %+v", r.ID, r.Inputs.Mode, r.Outcome, r.Steps)
			}
			proofs := 0
			for _, ev := range r.Events {
				if ev.Fields["check"] == "edge" && ev.Fields["verified"] == "true" {
					proofs++
				}
			}
			if proofs != 2 {
				t.Fatalf("%d verified edge proofs, want 2 (verify and enforce)", proofs)
			}
		})
	}
}

// liveProgram is the wizard as Run runs it, so that Ctrl-C saves and ends
// it with ErrInterrupted (teatest fails a test whose program errs).
type liveProgram struct {
	p    *tea.Program
	out  *lockedBuffer
	done chan error
}

func (l *simLab) live(t *testing.T, f *StepsFlow) *liveProgram {
	t.Helper()
	m := New(context.Background(), f, Options{Token: l.sim.Token()})
	lp := &liveProgram{out: &lockedBuffer{}, done: make(chan error, 1)}
	lp.p = tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(lp.out), tea.WithoutSignals(),
		tea.WithWindowSize(100, 30), tea.WithColorProfile(colorprofile.Ascii))
	go func() { lp.done <- runModel(lp.p, m) }()
	return lp
}

func (lp *liveProgram) Type(s string) {
	for _, r := range s {
		lp.p.Send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}
func (lp *liveProgram) Send(m tea.Msg)    { lp.p.Send(m) }
func (lp *liveProgram) Output() io.Reader { return lp.out }

func (lp *liveProgram) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-lp.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("the program did not end")
	}
	return nil
}

// lockedBuffer is the program's output: written by the program, read
// (and consumed) by waitFor.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Read(p)
}

// TestStepsFlowCtrlCThenResumeThere: Ctrl-C in the middle of a rollout
// (after the upload) saves it and ends with ErrInterrupted; the wizard
// started again lists it at the step it reached, resumes it there and
// finishes it, with nothing done twice.
func TestStepsFlowCtrlCThenResumeThere(t *testing.T) {
	l := newSimLab(t)
	f := NewStepsFlow(l.opts)
	lp := l.live(t, f)
	waitFor(t, lp, "Start a new rollout")
	enter(lp)
	connectAndPlan(t, lp, 0)
	waitFor(t, lp, "Generate a new CA")
	enter(lp)
	waitFor(t, lp, "key passphrase")
	enter(lp)
	enter(lp)
	waitFor(t, lp, "certificate ready")
	enter(lp)
	waitFor(t, lp, "to upload.")
	enter(lp)
	waitFor(t, lp, "uploaded and active")
	lp.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if err := lp.wait(t); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("ctrl+c: %v, want ErrInterrupted", err)
	}
	f.Close() // the process ends: its lock goes
	if r := l.rollout(t); r.Current() != steps.StepOriginSoft {
		t.Fatalf("saved at %s, want %s: %+v", r.Current(), steps.StepOriginSoft, r.Steps)
	}

	tm, _ := l.program(t)
	waitFor(t, tm, "Resume an unfinished rollout", simZone+" · zone mode · at origin", "Start a new rollout")
	enter(tm)
	originToEnd(t, tm, []string{"AOP on"})
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(60*time.Second)).(*Model)
	if fm.Err() != nil {
		t.Fatal(fm.Err())
	}
	r := l.rollout(t)
	if r.Outcome != steps.OutcomeEnforcedEdge || !r.Finished() || l.sim.Uploads(simZone) != 1 {
		t.Fatalf("outcome %q, uploads %d, steps %+v", r.Outcome, l.sim.Uploads(simZone), r.Steps)
	}
}

// TestStepsFlowAccessibleToDone: the accessible line prompts drive the
// real flow to done, as the full-screen wizard does.
func TestStepsFlowAccessibleToDone(t *testing.T) {
	for _, tc := range []struct {
		enforce, outcome string
		says             []string
	}{
		{"yes", steps.OutcomeEnforcedEdge, []string{"found in the origin's log with a verified client certificate"}},
		{"", "soft, verified; not enforced", []string{"– Enforce skipped", "The origin stays in the soft phase"}},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			l := newSimLab(t)
			f := NewStepsFlow(l.opts)
			t.Cleanup(f.Close)
			answers := strings.Join([]string{
				simZone,
				"", "www." + simZone, "", "", "", "", "", "", // plan: zone mode, builtin, run's origin certificate and key, no alerts, go ahead
				"", "y", // generate, no passphrase
				"",         // upload
				"",         // origin: apply
				"",         // enable
				tc.enforce, // enforce, or stay in the soft phase
			}, "\n") + "\n"
			var out bytes.Buffer
			if err := RunPlain(context.Background(), f, Options{Token: l.sim.Token()}, strings.NewReader(answers), &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			wantLines(t, out.String(), append(tc.says, "Step 1 of 9: Connect", "✓ Connect done", "✓ Authenticated Origin Pulls is set up for "+simZone)...)
			if r := l.rollout(t); r.Outcome != tc.outcome || strings.Contains(out.String(), l.sim.Token()) {
				t.Fatalf("outcome %q (or the token was printed)\n%s", r.Outcome, out.String())
			}
		})
	}
}

// TestStepsFlowSSLModeFixedOnConnect: a zone at Flexible (AOP cannot
// work) or Full (AOP works, the origin's certificate goes unchecked) is
// offered the switch to Full (strict) on the connect screen; pressing f
// switches it, recorded as the rollout's change, and the rollout goes on.
func TestStepsFlowSSLModeFixedOnConnect(t *testing.T) {
	for _, tc := range []struct{ mode, fix string }{
		{cfapi.SSLFlexible, "Switch the zone to Full (strict)"},
		{cfapi.SSLFull, "Full (strict) is recommended"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			l := newSimLabSSL(t, tc.mode)
			tm, f := l.program(t)
			waitFor(t, tm, "Start a new rollout")
			enter(tm)
			waitFor(t, tm, "Connect to Cloudflare")
			tm.Type(simZone)
			enter(tm)
			waitFor(t, tm, tc.fix, "to set it to Full (strict)")
			if got := l.sim.SSLMode(simZone); got != tc.mode {
				t.Fatalf("the SSL/TLS mode changed to %s before consent", got)
			}
			tm.Type("f")
			waitFor(t, tm, "SSL/TLS mode: strict")
			enter(tm)
			waitFor(t, tm, "Plan the rollout")
			if got := l.sim.SSLMode(simZone); got != cfapi.SSLStrict {
				t.Fatalf("SSL/TLS mode %s after the fix", got)
			}
			if st := f.Current().Step(steps.StepConnect); st.Status != steps.StatusDone || !f.Current().Changes.SSLModeSet ||
				f.Current().Changes.SSLModeBefore != tc.mode {
				t.Fatalf("connect %+v, changes %+v", st, f.Current().Changes)
			}
			if err := tm.Quit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestStepsFlowAccessibleFullZoneOffersStrict: the accessible prompts
// offer the same switch for a zone at Full, not taken by default (AOP
// works under Full).
func TestStepsFlowAccessibleFullZoneOffersStrict(t *testing.T) {
	for answer, want := range map[string]string{"y": cfapi.SSLStrict, "": cfapi.SSLFull} {
		t.Run(want, func(t *testing.T) {
			l := newSimLabSSL(t, cfapi.SSLFull)
			f := NewStepsFlow(l.opts)
			t.Cleanup(f.Close)
			var out bytes.Buffer
			// The answers end after the switch: RunPlain stops there.
			_ = RunPlain(context.Background(), f, Options{Token: l.sim.Token()}, strings.NewReader(simZone+"\n"+answer+"\n"), &out)
			wantLines(t, out.String(), "SSL/TLS mode: full", "Full (strict) is recommended", "Set it to Full (strict) now (y/N)")
			if got := l.sim.SSLMode(simZone); got != want {
				t.Fatalf("SSL/TLS mode %s, want %s\n%s", got, want, out.String())
			}
			if want == cfapi.SSLStrict && !strings.Contains(out.String(), "SSL/TLS mode: strict") {
				t.Fatalf("the switch was not reported:\n%s", out.String())
			}
		})
	}
}

// TestStepsFlowGoingBackReplans: an answer changed on an earlier screen
// counts (the plan is made again for the new mode), until a certificate
// exists for the earlier answers; then a change is refused and nothing
// moves.
func TestStepsFlowGoingBackReplans(t *testing.T) {
	l := newSimLab(t)
	f := NewStepsFlow(l.opts)
	t.Cleanup(f.Close)
	ctx := context.Background()
	sum, err := f.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := sum.Inputs
	in.Zone = simZone
	run := func(step string) Summary {
		t.Helper()
		if _, err := f.SetInputs(ctx, in, Secrets{}); err != nil {
			t.Fatal(err)
		}
		sum, err := f.RunStep(ctx, step, nil)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return sum
	}
	run(StepConnect)
	in.Mode, in.Hostnames = ModeZone, []string{"www." + simZone}
	run(StepPlan)
	in.Mode = ModeHostname
	run(StepPlan)
	if c := f.Current().Certificates; len(c) != 1 || len(c[0].Hostnames) != 1 || f.Current().Step(steps.StepUpload) == nil {
		t.Fatalf("not planned again for hostname mode: %+v", c)
	}
	in.NoPassphrase = true
	run(StepCertificate)
	in.Mode = ModeZone
	if _, err := f.SetInputs(ctx, in, Secrets{}); err == nil || !strings.Contains(err.Error(), "start a new rollout") {
		t.Fatalf("changing the mode after the certificate: %v", err)
	}
	if got := f.Current().Inputs.Mode; got != steps.ModeHostname {
		t.Fatalf("the refused change moved the mode to %s", got)
	}
}

// TestStepsFlowTokenTypedOrSaidMissing: without a token in the
// environment a step says what to do; the token typed on the connect
// screen is used, and kept out of the state file.
func TestStepsFlowTokenTypedOrSaidMissing(t *testing.T) {
	l := newSimLab(t)
	l.opts.Env.Config.Token = ""
	f := NewStepsFlow(l.opts)
	t.Cleanup(f.Close)
	ctx := context.Background()
	sum, _ := f.Start(ctx)
	in := sum.Inputs
	in.Zone = simZone
	if _, err := f.SetInputs(ctx, in, Secrets{}); err != nil {
		t.Fatal(err)
	}
	_, err := f.RunStep(ctx, StepConnect, nil)
	var r remedier
	if !errors.As(err, &r) || !strings.Contains(r.Remedy(), cfapi.EnvAPIToken) {
		t.Fatalf("no token: %v", err)
	}
	if _, err := f.SetInputs(ctx, in, Secrets{Token: l.sim.Token()}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.RunStep(ctx, StepConnect, nil); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(l.stateDir, "rollouts", f.Current().ID+".json"))
	if err != nil || strings.Contains(string(state), l.sim.Token()) {
		t.Fatalf("the state file holds the token (or cannot be read: %v)", err)
	}
}

// TestResumeOptionOpensTheRolloutAtOnce: `aopwizard resume ID` lands on
// the screen of the step the rollout reached, not on the start screen;
// back there, the operator chooses.
func TestResumeOptionOpensTheRolloutAtOnce(t *testing.T) {
	f := newFakeFlow()
	r := Summary{ID: "r9", Created: testNow, Updated: testNow, Steps: stepsFor(ModeZone),
		Inputs: Inputs{Zone: "example.com", Mode: ModeZone, Server: "nginx"}}
	r.Steps[0].Status, r.Steps[1].Status = StatusDone, StatusDone
	f.rollouts = []Summary{{ID: "r8", Steps: stepsFor(ModeZone), Inputs: Inputs{Zone: "other.example"}}, r}
	m := newTestModel(t, f, Options{Token: "env-token", Resume: "r9"}, 80, 24)
	if got := m.screen.Step(); got != StepCertificate {
		t.Fatalf("the wizard opened %q, want the certificate screen:\n%s", got, content(m))
	}
	drive(t, m, cmdMsgs(m, m.show(newStart(m.c)))...)
	if m.screen.Step() != "" || !strings.Contains(content(m), "other.example") {
		t.Fatalf("back on the start screen it resumed again:\n%s", content(m))
	}
}
