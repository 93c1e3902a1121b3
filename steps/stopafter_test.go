package steps

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// TestResumeAfterEnforceKeepsEnforcing: a rollout enforced but stopped
// before its last step must, on resume, take the enforce config as the
// soft step's effect too. Before the fix the soft step's check failed on
// the enforce config and the resume put the origin back in the soft phase,
// then enforced again.
func TestResumeAfterEnforceKeepsEnforcing(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	id, out, err := l.start(l.inputs(ModeZone, "origin.example.test"), Secrets{}, nil)
	l.finished(id, out, err)
	before := len(l.events.text())
	r, out, err := l.resume(id, func(r *Rollout) { r.Step(StepDone).Status = StatusPending })
	if err != nil || !out.Finished || r.Outcome != "enforced, verified" {
		t.Fatalf("resume: %v %+v %q", err, out, r.Outcome)
	}
	if after := l.events.text()[before:]; strings.Contains(after, "effect is gone") || strings.Contains(after, "soft phase config") {
		t.Fatalf("the resume redid the origin phases:\n%s", after)
	}
}

// TestMachineStopAfter runs one step at a time, as the wizard does: each
// run re-checks the steps before and stops after the one asked for.
func TestMachineStopAfter(t *testing.T) {
	l := newLab(t, cfsim.Options{})
	in := l.inputs(ModeZone, "origin.example.test")
	if ps := in.Validate(); len(ps) > 0 {
		t.Fatal(ps)
	}
	r := NewRollout(NewID(in.Zone, time.Now().UTC()), in, time.Now().UTC())
	h, err := l.store.Create(r)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for i, st := range r.Steps {
		m := &Machine{Env: l.env(h.R, Secrets{}), Saver: h, StopAfter: st.Name}
		out, err := m.Run(context.Background())
		if err != nil {
			t.Fatalf("%s: %v\n%s", st.Name, err, l.events.text())
		}
		last := i == len(r.Steps)-1
		if out.Finished != last || out.Stopped == last || h.R.Steps[i].Status != StatusDone {
			t.Fatalf("after %s: %+v, status %s", st.Name, out, h.R.Steps[i].Status)
		}
		if !last && h.R.Steps[i+1].Status != StatusPending {
			t.Fatalf("after %s, %s is %s", st.Name, h.R.Steps[i+1].Name, h.R.Steps[i+1].Status)
		}
		if saved, err := l.store.Load(r.ID); err != nil || saved.Steps[i].Status != StatusDone {
			t.Fatalf("after %s the state file says %+v (%v)", st.Name, saved.Steps[i], err)
		}
	}
	if h.R.Outcome != "enforced, verified" {
		t.Fatalf("outcome %q\n%s", h.R.Outcome, l.events.text())
	}
}
