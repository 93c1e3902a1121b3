package steps

import (
	"context"
	"errors"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

func (l *lab) rotate(id string, hook func(string) error) (*Rollout, error) {
	l.t.Helper()
	h, err := l.store.Open(id)
	if err != nil {
		l.t.Fatal(err)
	}
	defer h.Close()
	m := &Machine{Env: l.env(h.R, Secrets{}), Saver: h}
	return h.R, m.Rotate(context.Background(), hook)
}

// Rotation under the same CA, interrupted after the upload and run again:
// one new upload, the associations on the new certificate, the old one
// deleted, the enforcing origin accepting the new one; rollback after it
// undoes the rollout.
func TestRotateUnderTheSameCA(t *testing.T) {
	for _, mode := range []Mode{ModeZone, ModeHostname} {
		t.Run(string(mode), func(t *testing.T) {
			l := newLab(t, cfsim.Options{DeployAfter: 1})
			id, out, err := l.start(l.inputs(mode, "a.example.test", "b.example.test"), Secrets{}, nil)
			before := l.finished(id, out, err)
			oldID := before.Certificates[0].ID

			stop := errors.New("crash")
			_, err = l.rotate(id, func(p string) error {
				if p == RotateUploaded {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Fatalf("first rotation: %v", err)
			}
			r, err := l.rotate(id, nil)
			if err != nil {
				t.Fatalf("rotation: %v\n%s", err, l.events.text())
			}
			c := r.Certificates[0]
			if r.Rotation != nil || r.Rotations != 1 || c.ID == oldID || !c.Uploaded || c.Fingerprint == before.Certificates[0].Fingerprint {
				t.Fatalf("after the rotation: %+v %+v", r.Rotation, c)
			}
			if n := l.uploads(); n != 2 {
				t.Fatalf("%d uploads, want 2 (the rollout's and the rotation's)", n)
			}
			for _, x := range l.sim.Certificates(testZone) {
				if x.ID == oldID && x.Status != cfsim.StatusPendingDeletion && x.Status != cfsim.StatusDeleted {
					t.Errorf("the old certificate is %s", x.Status)
				}
			}
			if mode == ModeHostname {
				for _, a := range l.sim.Associations(testZone) {
					if a.CertID != c.ID {
						t.Errorf("%s still on %s", a.Hostname, a.CertID)
					}
				}
			}
			if _, err := l.rollback(id); err != nil {
				t.Fatalf("rollback after rotation: %v", err)
			}
			for _, x := range l.sim.Certificates(testZone) {
				if x.Status == cfsim.StatusActive {
					t.Errorf("certificate %s left active", x.ID)
				}
			}
		})
	}
}
