package steps

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

func (l *lab) rotate(id string, hook func(string) error) (*Rollout, error) {
	l.t.Helper()
	return l.drive(id, func(m *Machine) error { return m.Rotate(context.Background(), hook) })
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

func (l *lab) rotateNewCA(id string, hook func(string) error) (*Rollout, error) {
	l.t.Helper()
	return l.drive(id, func(m *Machine) error {
		return m.RotateWith(context.Background(), RotateOptions{NewCA: true}, hook)
	})
}

// confFiles are the bytes of the builtin origin's config files.
func (l *lab) confFiles() map[string]string {
	l.t.Helper()
	files := map[string]string{}
	entries, _ := os.ReadDir(filepath.Join(l.dir, "conf"))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(l.dir, "conf", e.Name()))
		if err != nil {
			l.t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

// A rotation to a new CA interrupted after each phase and continued ends
// with the new CA alone trusted by the origin (its config names the new CA
// file, not the bundle), one new upload, and the old certificate deleted.
// A rotation interrupted after the upload and then rolled back leaves
// Cloudflare and the origin's files as they were before the rollout.
func TestRotateToANewCA(t *testing.T) {
	for _, mode := range []Mode{ModeZone, ModeHostname} {
		t.Run(string(mode)+"/continued", func(t *testing.T) {
			l := newLab(t, cfsim.Options{DeployAfter: 1})
			id, out, err := l.start(l.inputs(mode, "a.example.test"), Secrets{}, nil)
			before := l.finished(id, out, err)
			stop := errors.New("crash")
			for {
				_, err := l.rotateNewCA(id, func(string) error { return stop })
				if err == nil {
					break
				}
				if !errors.Is(err, stop) {
					t.Fatalf("rotation: %v\n%s", err, l.events.text())
				}
			}
			r, err := l.store.Load(id)
			if err != nil {
				t.Fatal(err)
			}
			c := r.Certificates[0]
			if r.Rotation != nil || c.CAFile == before.Certificates[0].CAFile || l.uploads() != 2 || len(r.Changes.Rotated) != 2 {
				t.Fatalf("after the rotation: %+v %+v, %d uploads, %d origin changes", r.Rotation, c, l.uploads(), len(r.Changes.Rotated))
			}
			conf := strings.Join(slices.Collect(maps.Values(l.confFiles())), "\n")
			if !strings.Contains(conf, c.CAFile) || strings.Contains(conf, "ca-bundle-old-and-new") || strings.Contains(conf, before.Certificates[0].CAFile) {
				t.Fatalf("the origin config does not trust the new CA alone:\n%s", conf)
			}
		})
		t.Run(string(mode)+"/rolled-back", func(t *testing.T) {
			l := newLab(t, cfsim.Options{DeployAfter: 1})
			simBefore, confBefore := l.sim.Snapshot(testZone), l.confFiles()
			id, out, err := l.start(l.inputs(mode, "a.example.test"), Secrets{}, nil)
			l.finished(id, out, err)
			stop := errors.New("crash")
			if _, err := l.rotateNewCA(id, func(p string) error {
				if p == RotateUploaded {
					return stop
				}
				return nil
			}); !errors.Is(err, stop) {
				t.Fatalf("rotation: %v", err)
			}
			if _, err := l.rollback(id); err != nil {
				t.Fatalf("rollback: %v\n%s", err, l.events.text())
			}
			if got := l.sim.Snapshot(testZone); !reflect.DeepEqual(got, simBefore) {
				t.Errorf("Cloudflare after rollback:\n%+v\nbefore:\n%+v", got, simBefore)
			}
			if got := l.confFiles(); !reflect.DeepEqual(got, confBefore) {
				t.Errorf("origin files after rollback: %v, before %v", got, confBefore)
			}
		})
	}
}
