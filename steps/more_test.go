package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/pki"
)

// manualOperator is the operator of a manual-mode rollout: each config the
// flow prints and waits for is written to the builtin origin and reloaded.
// It counts the configs applied, by phase (step name when none).
func (l *lab) manualOperator() map[string]int {
	t := l.t
	var pending, content string
	applied := map[string]int{}
	l.events.hook = func(e Event) {
		if p := e.Fields["path"]; p != "" {
			pending, content = e.Fields["phase"], e.Fields["content"]
			if pending == "" {
				pending = string(e.Step)
			}
			if p != l.host.ConfigPath {
				t.Errorf("config for %s, want %s", p, l.host.ConfigPath)
			}
		}
		if strings.HasPrefix(e.Message, "waiting for the origin") && content != "" {
			applied[pending]++
			if err := os.MkdirAll(filepath.Dir(l.host.ConfigPath), 0o755); err != nil {
				t.Error(err)
			}
			if err := os.WriteFile(l.host.ConfigPath, []byte(content), 0o644); err != nil {
				t.Error(err)
			}
			if _, err := l.host.Run(context.Background(), BuiltinReloadCmd); err != nil {
				t.Error(err)
			}
			content = ""
		}
	}
	return applied
}

// Manual mode: the flow prints the config, waits, the operator (here the
// test) applies it, the flow detects it with probes and goes on.
func TestManualModeWaitsForTheOperatorsChange(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone, "origin.example.test")
	in.OriginConfig, in.Origins, in.WaitOrigin = OriginManual, []string{l.listen}, time.Minute
	applied := l.manualOperator()
	id, out, err := l.start(in, Secrets{}, nil)
	r := l.finished(id, out, err)
	if len(applied) != 2 || r.Changes.Soft.Checkpoint != "" {
		t.Fatalf("the operator applied %v; changes %+v\n%s", applied, r.Changes, l.events.text())
	}

	// A rotation to a new CA in manual mode waits for the operator twice:
	// the bundle of both CAs, then the new CA alone.
	before := len(r.Certificates[0].CAFile)
	total := func() (n int) {
		for _, c := range applied {
			n += c
		}
		return n
	}
	was := total()
	r, err = l.rotateNewCA(id, nil)
	if err != nil {
		t.Fatalf("manual rotation: %v\n%s", err, l.events.text())
	}
	if r.Rotation != nil || total() != was+2 || before == 0 {
		t.Fatalf("after the rotation %+v the operator applied %v\n%s", r.Rotation, applied, l.events.text())
	}
	if cfg, err := os.ReadFile(l.host.ConfigPath); err != nil || !strings.Contains(string(cfg), r.Certificates[0].CAFile) {
		t.Fatalf("the origin does not trust the new CA: %v\n%s", err, cfg)
	}
}

// Manual mode gives up at the deadline with a clear, resumable failure.
func TestManualModeDeadline(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone)
	in.OriginConfig, in.Origins, in.WaitOrigin = OriginManual, []string{l.listen}, 50*time.Millisecond
	id, _, err := l.start(in, Secrets{}, nil)
	if err == nil || !strings.Contains(err.Error(), "did not serve the soft phase within 50ms") || !strings.Contains(RemedyOf(err), "resume") {
		t.Fatalf("err = %v", err)
	}
	r, _ := l.store.Load(id)
	if st := r.Step(StepOriginSoft); st.Status != StatusFailed || st.Remedy == "" {
		t.Fatalf("origin step %+v", st)
	}
}

// Ctrl-C: the state is saved, the error wraps context.Canceled, and the
// next run finishes.
func TestInterruptSavesStateAndResumes(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewRollout("int-1", l.inputs(ModeZone), time.Now().UTC())
	h, err := l.store.Create(r)
	if err != nil {
		t.Fatal(err)
	}
	m := &Machine{Env: l.env(r, Secrets{}), Saver: h, Hook: func(s StepName, p HookPoint) error {
		if s == StepEnable && p == BeforeRun {
			cancel()
		}
		return nil
	}}
	_, err = m.Run(ctx)
	h.Close()
	var ie *Interrupted
	if !errors.Is(err, context.Canceled) || !errors.As(err, &ie) || ie.Step != StepEnable {
		t.Fatalf("err = %v", err)
	}
	saved, _ := l.store.Load("int-1")
	if saved.Step(StepUpload).Status != StatusDone || saved.Step(StepEnable).Status == StatusDone {
		t.Fatalf("saved steps %+v", saved.Steps)
	}
	_, out, err := l.resume("int-1", nil)
	l.finished("int-1", out, err)
}

// cfsim answering 30% of requests with 429, 5xx, resets and resets after
// applying: the rollout completes and uploads once.
func TestRolloutCompletesUnderFaults(t *testing.T) {
	for seed := int64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			l := newLab(t, cfsim.Options{Seed: seed, DeployAfter: 1, Faults: cfsim.Faults{Rate: 0.3,
				Kinds: []cfsim.FaultKind{cfsim.Fault429, cfsim.Fault5xx, cfsim.FaultReset, cfsim.FaultResetAfter}}})
			l.api = l.client(cfapi.Config{MaxAttempts: 8, RateLimitRetries: 8, Sleep: noSleep})
			id, out, err := l.start(l.inputs(ModeHostname, "a.example.test"), Secrets{}, nil)
			l.finished(id, out, err)
			faulted := 0
			for _, r := range l.sim.Requests() {
				if r.Faulted {
					faulted++
				}
			}
			if l.sim.Uploads(testZone) != 1 || faulted == 0 {
				t.Fatalf("%d uploads, %d faulted requests", l.sim.Uploads(testZone), faulted)
			}
		})
	}
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// deployment_timed_out is a clear failure with a remedy, and the state says
// where the rollout stopped.
func TestDeploymentTimedOutFailsClearly(t *testing.T) {
	l := newLab(t, cfsim.Options{DeployAfter: 1, DeployTimeout: true})
	id, _, err := l.start(l.inputs(ModeZone), Secrets{}, nil)
	if !cfapi.IsKind(err, cfapi.KindDeploymentTimedOut) || RemedyOf(err) == "" {
		t.Fatalf("err = %v (remedy %q)", err, RemedyOf(err))
	}
	r, _ := l.store.Load(id)
	if st := r.Step(StepUpload); st.Status != StatusFailed || !strings.Contains(st.Error, "timed") || r.Certificates[0].ID == "" {
		t.Fatalf("upload step %+v, cert %+v", st, r.Certificates[0])
	}
	// Resume deletes the timed-out certificate and uploads it again (which
	// this simulator times out again).
	_, _, err = l.resume(id, nil)
	if !cfapi.IsKind(err, cfapi.KindDeploymentTimedOut) {
		t.Fatalf("resume: %v", err)
	}
	certs := l.sim.Certificates(testZone)
	if len(certs) != 2 || certs[0].Status == cfsim.StatusDeploymentTimedOut || !strings.Contains(l.events.text(), "deleting it and uploading it again") {
		t.Fatalf("after the resume: %+v\n%s", certs, l.events.text())
	}
}

// Over 100 hostnames make several certificates; over 10 per zone, counting
// those the zone has, is refused with the numbers.
func TestPlanSplitsHostnamesAndRefusesOverTheZoneLimit(t *testing.T) {
	hosts := make([]string, 250)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%d.example.test", i)
	}
	l := newLab(t, cfsim.Options{})
	stop := errors.New("stop after plan")
	in := l.inputs(ModeHostname, hosts...)
	id, _, err := l.start(in, Secrets{}, func(s StepName, p HookPoint) error {
		if s == StepCertificate {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	r, _ := l.store.Load(id)
	if len(r.Certificates) != 3 || len(r.Certificates[2].Hostnames) != 50 || r.Certificates[0].Dir == r.Certificates[1].Dir {
		t.Fatalf("plan: %d certificates", len(r.Certificates))
	}

	for i := 0; i < 9; i++ {
		upload(t, l, fmt.Sprintf("x%d.example.test", i))
	}
	_, _, err = l.start(l.inputs(ModeHostname, hosts...), Secrets{}, nil)
	if !IsInput(err) || !strings.Contains(err.Error(), "need 3 per-hostname certificates and the zone already has 9") {
		t.Fatalf("err = %v", err)
	}
}

func upload(t *testing.T, l *lab, host string) {
	t.Helper()
	set, err := pki.NewSet(pki.SetOptions{Domain: testZone, Hostnames: []string{host}, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := set.Client.KeyPEM()
	if _, err := l.api.UploadCertificate(context.Background(), l.sim.ZoneID(testZone), cfapi.LevelHostname, set.Client.CertPEM(), key); err != nil {
		t.Fatal(err)
	}
}

// Import (pki's check must pass) and reuse of an uploaded certificate (by
// fingerprint); rollback deletes neither, since the rollout did not upload
// them... except the imported one it uploaded itself.
func TestImportAndReuse(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone)
	in.CertSource, in.ImportCert, in.ImportKey, in.ImportCA = "", l.pki.Path("clientA.pem"), l.pki.Path("clientA.key"), l.pki.Path("caA.pem")
	in.CertDir = ""
	id, out, err := l.start(in, Secrets{}, nil)
	r := l.finished(id, out, err)
	if r.Inputs.CertSource != CertImport || !r.Certificates[0].Uploaded {
		t.Fatalf("import: %+v", r.Certificates[0])
	}
	if _, err := l.rollback(id); err != nil {
		t.Fatal(err)
	}

	// The operator uploaded B's certificate by hand; the rollout adopts it.
	keyB, _ := l.pki.ClientB.KeyPEM()
	up, err := l.api.UploadCertificate(context.Background(), l.sim.ZoneID(testZone), cfapi.LevelZone, l.pki.ClientB.CertPEM(), keyB)
	if err != nil {
		t.Fatal(err)
	}
	in = l.inputs(ModeZone)
	in.CertSource, in.ReuseCert, in.ImportCA, in.CertDir = "", pki.Fingerprint(l.pki.ClientB.Cert), l.pki.Path("caB.pem"), ""
	id, out, err = l.start(in, Secrets{}, nil)
	r = l.finished(id, out, err)
	if r.Certificates[0].ID != up.ID || r.Certificates[0].Uploaded {
		t.Fatalf("reuse: %+v", r.Certificates[0])
	}
	if _, err := l.rollback(id); err != nil {
		t.Fatal(err)
	}
	got, err := l.api.GetCertificate(context.Background(), l.sim.ZoneID(testZone), up.Ref())
	if err != nil || got.Status.Gone() {
		t.Fatalf("rollback deleted the operator's certificate: %v %s", err, got.Status)
	}

	// An import that fails pki's check is bad input, before any upload.
	in = l.inputs(ModeZone)
	in.CertSource, in.ImportCert, in.ImportKey, in.ImportCA, in.CertDir = "", l.pki.Path("clientA.pem"), l.pki.Path("clientA.key"), l.pki.Path("caB.pem"), ""
	before := l.sim.Uploads(testZone)
	_, _, err = l.start(in, Secrets{}, nil)
	if !IsInput(err) || l.sim.Uploads(testZone) != before {
		t.Fatalf("mismatched CA: %v", err)
	}
}

// An enforce phase that fails its checks goes back to the soft phase with
// --auto-revert, says so, and a resume tries again.
func TestEnforceFailureRevertsToSoft(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	enforcing := false
	l.events.hook = func(e Event) {
		if e.Step == StepEnforce && e.Status == StatusRunning {
			enforcing = true
		}
	}
	// The prober reports the right certificate refused once enforcing.
	broken := ProbeFunc(func(ctx context.Context, ts []probe.Target, cs []probe.Case) []probe.Result {
		res := fastProber.Probe(ctx, ts, cs)
		for i := range res {
			if enforcing && res[i].Kind == probe.KindRight {
				res[i].Class, res[i].HTTPStatus = probe.RejectedTLS, 0
			}
		}
		return res
	})
	r := NewRollout("revert-1", l.inputs(ModeZone), time.Now().UTC())
	h, err := l.store.Create(r)
	if err != nil {
		t.Fatal(err)
	}
	env := l.env(r, Secrets{})
	env.Prober = broken
	_, err = (&Machine{Env: env, Saver: h}).Run(context.Background())
	h.Close()
	if err == nil || !strings.Contains(err.Error(), "returned to the soft phase") {
		t.Fatalf("err = %v", err)
	}
	// The failed cell reads as outcomes: expected, then observed.
	if !strings.Contains(err.Error(), "right-cert: expected accepted, got rejected at TLS") {
		t.Errorf("the failed check reads %q", err)
	}
	saved, _ := l.store.Load("revert-1")
	if saved.Step(StepEnforce).Status != StatusFailed || saved.Changes.Enforce.Checkpoint != "" || saved.Changes.Phase != "soft" {
		t.Fatalf("after the revert: %+v %+v", saved.Step(StepEnforce), saved.Changes)
	}
	cfg, err := os.ReadFile(l.host.ConfigPath)
	if err != nil || !strings.Contains(string(cfg), `"phase": "soft"`) {
		t.Fatalf("the origin is not back in the soft phase: %v\n%s", err, cfg)
	}
	enforcing = false
	_, out, err := l.resume("revert-1", nil)
	l.finished("revert-1", out, err)
}

// Ctrl-C while the upload is in flight: the upload finishes and its id is
// recorded before the run stops, so the next run does not have to find it.
func TestInterruptDuringUploadFinishesTheUpload(t *testing.T) {
	l := newLab(t, cfsim.Options{DeployAfter: 3})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l.events.hook = func(e Event) {
		if e.Message == "uploading the certificate to Cloudflare" {
			cancel() // the operator presses Ctrl-C as the upload starts
		}
	}
	r := NewRollout("int-up", l.inputs(ModeZone), time.Now().UTC())
	h, err := l.store.Create(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Machine{Env: l.env(r, Secrets{}), Saver: h}).Run(ctx)
	h.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	saved, _ := l.store.Load("int-up")
	if saved.Certificates[0].ID == "" || !saved.Certificates[0].Uploaded || l.sim.Uploads(testZone) != 1 {
		t.Fatalf("the interrupted upload was not recorded: %+v (uploads %d)", saved.Certificates[0], l.sim.Uploads(testZone))
	}
	l.events.hook = nil
	_, out, err := l.resume("int-up", nil)
	l.finished("int-up", out, err)
	if l.uploads() != 1 {
		t.Fatalf("%d upload requests", l.uploads())
	}
}

// A manual `origin apply` holding the server's lock stops the rollout's
// origin step with a clear error and changes nothing; once it is done, a
// resume goes on.
func TestOriginLockSharedWithOriginApply(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone)
	if err := os.MkdirAll(in.Origin.CheckpointDir, 0o700); err != nil {
		t.Fatal(err)
	}
	held := flock.New(filepath.Join(in.Origin.CheckpointDir, apply.LockName))
	if ok, err := held.TryLock(); !ok || err != nil {
		t.Fatalf("lock: %v", err)
	}
	id, _, err := l.start(in, Secrets{}, nil)
	if !errors.Is(err, apply.ErrLocked) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(l.host.ConfigPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the origin config was written under another run's lock")
	}
	_ = held.Unlock()
	_, out, err := l.resume(id, nil)
	l.finished(id, out, err)
}
