package steps

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// finish asserts a finished rollout ended enforced and verified.
func (l *lab) finished(id string, out Outcome, err error) *Rollout {
	l.t.Helper()
	if err != nil || !out.Finished {
		l.t.Fatalf("rollout: %v %+v\n%s", err, out, l.events.text())
	}
	r, err := l.store.Load(id)
	if err != nil {
		l.t.Fatal(err)
	}
	if r.Outcome != "enforced, verified" || !r.Finished() {
		l.t.Fatalf("outcome %q\n%s", r.Outcome, l.events.text())
	}
	if _, err := os.Stat(r.Report); err != nil {
		l.t.Fatalf("no report: %v", err)
	}
	return r
}

func TestRolloutZoneModeEndToEnd(t *testing.T) {
	l := newLab(t, cfsim.Options{DeployAfter: 2})
	id, out, err := l.start(l.inputs(ModeZone, "origin.example.test"), Secrets{}, nil)
	l.finished(id, out, err)
	if !l.sim.ZoneAOPEnabled(testZone) || l.sim.Uploads(testZone) != 1 {
		t.Fatalf("zone AOP %v, uploads %d", l.sim.ZoneAOPEnabled(testZone), l.sim.Uploads(testZone))
	}
	if !strings.Contains(l.events.text(), "evidence since the soft phase went live, origin.example.test: ") {
		t.Errorf("no evidence counts:\n%s", l.events.text())
	}
}

func TestRolloutHostnameModeEndToEnd(t *testing.T) {
	l := newLab(t, cfsim.Options{DeployAfter: 1})
	id, out, err := l.start(l.inputs(ModeHostname, "a.example.test", "b.example.test"), Secrets{}, nil)
	r := l.finished(id, out, err)
	as := l.sim.Associations(testZone)
	if len(as) != 2 || l.sim.Uploads(testZone) != 1 || l.sim.ZoneAOPEnabled(testZone) {
		t.Fatalf("associations %+v, uploads %d", as, l.sim.Uploads(testZone))
	}
	for _, a := range as {
		if a.CertID != r.Certificates[0].ID || a.Enabled == nil || !*a.Enabled {
			t.Errorf("association %+v is not the rollout's enabled one", a)
		}
	}
}

// Global mode: the builtin origin trusts cfsim's stand-in for Cloudflare's
// CA; nothing is uploaded.
func TestRolloutGlobalModeEndToEnd(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	id, out, err := l.start(l.inputs(ModeGlobal, "origin.example.test"), Secrets{}, nil)
	l.finished(id, out, err)
	if l.sim.TLSClientAuth(testZone) != "on" || l.sim.Uploads(testZone) != 0 {
		t.Fatalf("tls_client_auth %s, uploads %d", l.sim.TLSClientAuth(testZone), l.sim.Uploads(testZone))
	}
}

// Without consent to enforce, the rollout stops verified in the soft phase;
// a resume with consent enforces.
func TestRolloutStopsSoftThenResumesToEnforce(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone)
	in.Enforce, in.AutoRevert = false, false
	id, out, err := l.start(in, Secrets{}, nil)
	if err != nil || out.Finished || out.Waiting != StepEnforce {
		t.Fatalf("soft run: %v %+v", err, out)
	}
	r, _ := l.store.Load(id)
	if r.Outcome != "soft, verified; enforce pending" || r.Step(StepEnforce).Status != StatusPending || !r.Open() {
		t.Fatalf("after the soft run: %q %+v", r.Outcome, r.Step(StepEnforce))
	}
	_, out, err = l.resume(id, func(r *Rollout) { r.Inputs.Enforce = true })
	l.finished(id, out, err)
	if !strings.Contains(l.events.text(), "connect info still in place (checked)") {
		t.Errorf("the resume did not re-check the done steps:\n%s", l.events.text())
	}
}

var errCrash = errors.New("simulated crash")

// A crash at every step boundary: resume completes, exactly one upload per
// certificate, the state file always loads.
func TestRolloutResumesAfterACrashAtEveryBoundary(t *testing.T) {
	for _, name := range StepsFor(Inputs{Mode: ModeHostname}) {
		for _, at := range []HookPoint{BeforeRun, AfterRun} {
			t.Run(fmt.Sprintf("%s/%s", name, at), func(t *testing.T) {
				l := newLab(t, cfsim.Options{DeployAfter: 1})
				crashed := false
				hook := func(s StepName, p HookPoint) error {
					if s == name && p == at {
						crashed = true
						return errCrash
					}
					return nil
				}
				id, _, err := l.start(l.inputs(ModeHostname, "a.example.test"), Secrets{}, hook)
				if !crashed || !errors.Is(err, errCrash) {
					t.Fatalf("no crash at %s/%s: %v", name, at, err)
				}
				r, err := l.store.Load(id)
				if err != nil {
					t.Fatalf("state after the crash: %v", err)
				}
				if st := r.Step(name).Status; st != StatusRunning {
					t.Fatalf("step %s saved as %s at the crash, want running", name, st)
				}
				_, out, err := l.resume(id, nil)
				r = l.finished(id, out, err)
				if n := l.uploads(); n != 1 {
					t.Fatalf("%d upload requests, want exactly 1\n%s", n, l.events.text())
				}
				if !r.Certificates[0].Uploaded || r.Changes.Soft.Checkpoint == "" || r.Changes.Enforce.Checkpoint == "" {
					t.Fatalf("a crash lost what the rollout owns: %+v %+v", r.Certificates[0], r.Changes)
				}
			})
		}
	}
}

// Rollback leaves cfsim and the origin as they were before the rollout.
func TestRollbackUndoesOnlyTheRollout(t *testing.T) {
	for _, mode := range []Mode{ModeZone, ModeHostname, ModeGlobal} {
		t.Run(string(mode), func(t *testing.T) {
			l := newLab(t, cfsim.Options{})
			in := l.inputs(mode, "a.example.test")
			in.AlertsEmail = "ops@example.test"
			if mode == ModeGlobal {
				in.AlertsEmail = ""
			}
			id, out, err := l.start(in, Secrets{}, nil)
			l.finished(id, out, err)
			r, err := l.rollback(id)
			if err != nil {
				t.Fatalf("rollback: %v\n%s", err, l.events.text())
			}
			if !r.RolledBack || r.Open() {
				t.Fatalf("rolled back rollout still open: %+v", r)
			}
			for _, c := range l.sim.Certificates(testZone) {
				if c.Status != cfsim.StatusPendingDeletion && c.Status != cfsim.StatusDeleted {
					t.Errorf("certificate %s left %s", c.ID, c.Status)
				}
			}
			for _, a := range l.sim.Associations(testZone) {
				if a.Enabled != nil && *a.Enabled {
					t.Errorf("association %s left enabled", a.Hostname)
				}
			}
			if l.sim.ZoneAOPEnabled(testZone) || l.sim.TLSClientAuth(testZone) != "off" || len(l.sim.Policies()) != 0 {
				t.Errorf("settings left: zone %v global %s policies %v", l.sim.ZoneAOPEnabled(testZone), l.sim.TLSClientAuth(testZone), l.sim.Policies())
			}
			if _, err := os.Stat(l.host.ConfigPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the origin config the rollout created is still there: %v", err)
			}
		})
	}
}

// The state file never holds the token, the CA passphrase or a key.
func TestStateHoldsNoSecrets(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone)
	in.NoPassphrase = false
	pass := []byte("correct horse battery staple 42")
	id, out, err := l.start(in, Secrets{CAPassphrase: pass}, nil)
	r := l.finished(id, out, err)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(l.store.path(id))
	report, _ := os.ReadFile(r.Report)
	key, _ := os.ReadFile(r.Certificates[0].KeyFile)
	secrets := map[string]string{"token": l.sim.Token(), "passphrase": string(pass), "key": "PRIVATE KEY", "key body": string(key[40:80])}
	for what, s := range secrets {
		for where, b := range map[string][]byte{"rollout": data, "state file": file, "report": report, "events": []byte(l.events.text())} {
			if strings.Contains(string(b), s) {
				t.Errorf("the %s holds the %s", where, what)
			}
		}
	}
}
