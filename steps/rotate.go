package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/pki"
)

// Rotation replaces the rollout's client certificates with new ones from
// the same CA, so the origin needs no change (docs/cloudflare-api.md, "Call
// sequence the wizard follows"): issue, upload, wait active, switch the
// hostname associations, verify, delete the old. Each phase is recorded,
// so an interrupted rotation continues where it stopped.
type Rotation struct {
	// Phase is the last phase completed.
	Phase string       `json:"phase"`
	Old   []CertRecord `json:"old"`
	New   []CertRecord `json:"new"`
}

// Rotation phases, in order.
const (
	RotateIssued   = "issued"
	RotateUploaded = "uploaded"
	RotateSwitched = "switched"
	RotateVerified = "verified"
)

var rotatePhases = []string{"", RotateIssued, RotateUploaded, RotateSwitched, RotateVerified}

// ErrNotRotatable is wrapped when the rollout has no certificate this build
// can rotate under the same CA.
var ErrNotRotatable = errors.New("this rollout's certificate cannot be rotated under the same CA")

// Rotate runs (or continues) a rotation of a rollout whose certificates
// are uploaded and enabled. hook, if set, is called after each phase is
// saved; an error stops the rotation there (tests use it as a crash).
func (m *Machine) Rotate(ctx context.Context, hook func(phase string) error) error {
	env, r := m.Env, m.Env.Rollout
	env.save, env.step = m.save, "rotate"
	if err := rotatable(r); err != nil {
		return err
	}
	if r.Rotation == nil {
		r.Rotation = &Rotation{Old: slices.Clone(r.Certificates)}
		env.info(fmt.Sprintf("rotating %d client certificate(s) under the same CA", len(r.Certificates)))
	} else {
		env.info("continuing the rotation after phase " + orStart(r.Rotation.Phase))
	}
	rot := r.Rotation
	phases := []struct {
		name string
		run  func(context.Context, *Env, *Rotation) error
	}{
		{RotateIssued, rotateIssue}, {RotateUploaded, rotateUpload}, {RotateSwitched, rotateSwitch}, {RotateVerified, rotateVerify},
	}
	for _, p := range phases {
		if slices.Index(rotatePhases, rot.Phase) >= slices.Index(rotatePhases, p.name) {
			continue
		}
		if err := p.run(ctx, env, rot); err != nil {
			if ctx.Err() != nil {
				return errors.Join(&Interrupted{Step: "rotate", Err: ctx.Err()}, m.save())
			}
			return errors.Join(err, m.save())
		}
		rot.Phase = p.name
		env.info("rotation: " + p.name)
		if err := m.save(); err != nil {
			return err
		}
		if hook != nil {
			if err := hook(p.name); err != nil {
				return err
			}
		}
	}
	if err := rotateCleanup(ctx, env, rot); err != nil {
		return errors.Join(err, m.save())
	}
	r.Certificates, r.Rotation = rot.New, nil
	r.Rotations++
	env.info("rotation complete: the new certificate(s) are live and the old ones deleted")
	return m.save()
}

func orStart(p string) string {
	if p == "" {
		return "start"
	}
	return p
}

func rotatable(r *Rollout) error {
	if r.RolledBack {
		return fmt.Errorf("%w: it was rolled back", ErrNotRotatable)
	}
	if r.Inputs.Mode == ModeGlobal {
		return fmt.Errorf("%w: global mode uses Cloudflare's certificate, which Cloudflare rotates", ErrNotRotatable)
	}
	if st := r.Step(StepEnable); st == nil || st.Status != StatusDone {
		return fmt.Errorf("%w yet: the rollout has not enabled AOP; resume it first", ErrNotRotatable)
	}
	for _, c := range r.Certificates {
		if c.Dir == "" {
			return fmt.Errorf("%w: the CA key of %s is not in a certificate directory aopwizard made; issue a new certificate yourself and import it in a new rollout", ErrNotRotatable, c.CAFile)
		}
	}
	return nil
}

// rotateIssue issues a new client certificate from each record's CA into a
// new directory next to the old files.
func rotateIssue(_ context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	kt, err := pki.ParseKeyType(r.Inputs.KeyType)
	if err != nil {
		return badInput(err, "")
	}
	if len(rot.New) == 0 {
		for _, c := range rot.Old {
			dir := filepath.Join(c.Dir, fmt.Sprintf("rotation-%d", r.Rotations+1))
			rot.New = append(rot.New, CertRecord{Dir: c.Dir, CAFile: c.CAFile, Hostnames: c.Hostnames, Generated: true,
				CertFile: filepath.Join(dir, pki.ClientCertFile), KeyFile: filepath.Join(dir, pki.ClientKeyFile)})
		}
	}
	for i := range rot.New {
		c := &rot.New[i]
		if cert, err := readCert(c.CertFile); err == nil {
			if _, err := os.Stat(c.KeyFile); err == nil {
				describe(c, cert)
				continue
			}
		}
		set, err := pki.LoadFiles(c.Dir, env.Secrets.CAPassphrase)
		if errors.Is(err, pki.ErrEncryptedKey) || errors.Is(err, pki.ErrWrongPassphrase) {
			return badInput(err, "give the CA key's passphrase")
		}
		if err != nil {
			return fail(fmt.Errorf("load the CA: %w", err), "")
		}
		cn, names := r.Inputs.Zone, c.Hostnames
		if len(names) > 0 {
			cn = names[0]
		}
		leaf, err := pki.IssueClient(set.CA, pki.ClientOptions{CommonName: cn, DNSNames: names, KeyType: kt})
		if err != nil {
			return fail(err, "")
		}
		keyPEM, err := leaf.KeyPEM()
		if err != nil {
			return fail(err, "")
		}
		if err := os.MkdirAll(filepath.Dir(c.CertFile), pki.DirMode); err != nil {
			return fail(err, "")
		}
		// The key first: a certificate file present means its key is too.
		if err := renameio.WriteFile(c.KeyFile, keyPEM, pki.KeyMode); err != nil {
			return fail(err, "")
		}
		clear(keyPEM)
		if err := renameio.WriteFile(c.CertFile, leaf.CertPEM(), pki.CertMode); err != nil {
			return fail(err, "")
		}
		describe(c, leaf.Cert)
		env.info("issued the new client certificate into "+filepath.Dir(c.CertFile)+" (SHA-256 "+c.Fingerprint+", valid until "+c.NotAfter.Format("2006-01-02")+")", "fingerprint", c.Fingerprint)
	}
	return nil
}

func rotateUpload(ctx context.Context, env *Env, rot *Rotation) error {
	for i := range rot.New {
		if err := uploadOne(ctx, env, &rot.New[i]); err != nil {
			return err
		}
	}
	return nil
}

// rotateSwitch points the hostname associations at the new certificates;
// at zone level Cloudflare presents the most recently activated one.
func rotateSwitch(ctx context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	if r.Inputs.Mode != ModeHostname {
		return nil
	}
	var all []string
	for _, c := range rot.New {
		if _, err := env.API.EnableHostnames(critical(ctx), r.Zone.ID, c.ID, c.Hostnames); err != nil {
			return fail(fmt.Errorf("associate the hostnames with the new certificate %s: %w", c.ID, err), "run the rotation again")
		}
		r.Changes.HostnamesEnabled = appendNew(r.Changes.HostnamesEnabled, c.Hostnames...)
		all = append(all, c.Hostnames...)
	}
	sts, err := env.API.WaitHostnamesActive(ctx, r.Zone.ID, all, func(h cfapi.HostnameStatus) {
		env.info(h.Hostname+": "+string(h.Status), "hostname", h.Hostname, "status", string(h.Status))
	})
	if err != nil {
		return fail(fmt.Errorf("the new associations did not become active: %w", err), "run the rotation again")
	}
	for _, s := range sts {
		if !slices.ContainsFunc(rot.New, func(c CertRecord) bool { return c.ID == s.CertID }) {
			return fail(fmt.Errorf("hostname %s is still associated with certificate %s", s.Hostname, s.CertID), "run the rotation again")
		}
	}
	return nil
}

// rotateVerify probes the origin in its current phase with the new
// certificates (and through the edge, when wired).
func rotateVerify(ctx context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	phase := probe.Soft
	if r.Changes.Phase == string(probe.Enforce) {
		phase = probe.Enforce
	}
	old := r.Certificates
	r.Certificates = rot.New
	failures := matrix(ctx, env, phase)
	failures = append(failures, edgeProof(ctx, env)...)
	r.Certificates = old
	if len(failures) > 0 {
		return fail(fmt.Errorf("the origin does not accept the new certificate as it must: %s", strings.Join(failures, "; ")),
			"the old certificate is still uploaded and in use; fix the cause and run the rotation again")
	}
	return nil
}

// rotateCleanup deletes the old certificates this rollout uploaded.
func rotateCleanup(ctx context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	for i := range rot.Old {
		c := &rot.Old[i]
		if !c.Uploaded || c.ID == "" || slices.ContainsFunc(rot.New, func(n CertRecord) bool { return n.ID == c.ID }) {
			continue
		}
		_, err := env.API.DeleteCertificate(critical(ctx), r.Zone.ID, cfapi.CertRef{Level: r.level(), ID: c.ID})
		if err != nil && !cfapi.IsKind(err, cfapi.KindNotFound) {
			return fail(fmt.Errorf("delete the old certificate %s: %w", c.ID, err), "run the rotation again")
		}
		env.info("deleted the old certificate "+c.ID, "id", c.ID)
		c.Uploaded = false
	}
	return nil
}
