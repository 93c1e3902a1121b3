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
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki"
)

// Rotation replaces the rollout's client certificates without a failed
// request (docs/cloudflare-api.md, "Call sequence", rotation). Under the
// same CA the origin needs no change: issue, upload, wait active, switch
// the hostname associations, verify, delete the old. To a new CA the
// origin first trusts both CAs (a bundle of the old and the new), so either
// certificate passes while Cloudflare switches, and drops the old CA only
// once the old certificate is deleted. Each phase is recorded, so an
// interrupted rotation continues where it stopped.
type Rotation struct {
	// Phase is the last phase completed.
	Phase string `json:"phase"`
	// NewCA says the new certificates come from a new CA.
	NewCA bool         `json:"new_ca,omitempty"`
	Old   []CertRecord `json:"old"`
	New   []CertRecord `json:"new"`
	// Bundles[i] holds Old[i]'s and New[i]'s CA certificates (new CA only).
	Bundles []string `json:"bundles,omitempty"`
	// Trust is what the origin config trusts during a new-CA rotation:
	// "" the old CA, TrustBoth the bundles, TrustNew the new CA.
	Trust string `json:"trust,omitempty"`
	// Both and Only are the origin changes to the bundles and to the new
	// CA alone.
	Both PhaseChange `json:"origin_both,omitzero"`
	Only PhaseChange `json:"origin_new_only,omitzero"`
}

// Rotation phases, in order; RotateTrusted and RotateDropped only to a new
// CA.
const (
	RotateIssued   = "issued"
	RotateTrusted  = "origin-trusts-both"
	RotateUploaded = "uploaded"
	RotateSwitched = "switched"
	RotateVerified = "verified"
	RotateDeleted  = "old-deleted"
	RotateDropped  = "origin-drops-old-ca"
)

// What the origin trusts during a new-CA rotation.
const (
	TrustBoth = "both"
	TrustNew  = "new"
)

var rotatePhases = []string{"", RotateIssued, RotateTrusted, RotateUploaded, RotateSwitched, RotateVerified, RotateDeleted, RotateDropped}

// ErrNotRotatable is wrapped when the rollout has no certificate this build
// can rotate.
var ErrNotRotatable = errors.New("this rollout's certificate cannot be rotated")

// RotateOptions choose the kind of rotation.
type RotateOptions struct {
	// NewCA issues the new certificates from a new CA instead of the
	// rollout's.
	NewCA bool
}

// Rotate runs (or continues) a rotation under the same CA.
func (m *Machine) Rotate(ctx context.Context, hook func(phase string) error) error {
	return m.RotateWith(ctx, RotateOptions{}, hook)
}

// RotateWith runs (or continues) a rotation of a rollout whose certificates
// are uploaded and enabled. A rotation in progress is continued as it was
// started, whatever opts say. hook, if set, is called after each phase is
// saved; an error stops the rotation there (tests use it as a crash).
func (m *Machine) RotateWith(ctx context.Context, opts RotateOptions, hook func(phase string) error) error {
	env, r := m.Env, m.Env.Rollout
	env.save, env.step = m.save, "rotate"
	if r.Rotation == nil {
		if err := rotatable(r, opts.NewCA); err != nil {
			return err
		}
		r.Rotation = &Rotation{Old: slices.Clone(r.Certificates), NewCA: opts.NewCA}
		what := "under the same CA"
		if opts.NewCA {
			what = "to a new CA (the origin trusts both CAs during the switch)"
		}
		env.info(fmt.Sprintf("rotating %d client certificate(s) %s", len(r.Certificates), what))
	} else {
		if r.Rotation.NewCA != opts.NewCA {
			env.warn("continuing the rotation in progress as it was started (new CA: " + fmt.Sprint(r.Rotation.NewCA) + ")")
		}
		env.info("continuing the rotation after phase " + orStart(r.Rotation.Phase))
	}
	rot := r.Rotation
	phases := []struct {
		name string
		run  func(context.Context, *Env, *Rotation) error
	}{
		{RotateIssued, rotateIssue}, {RotateTrusted, rotateTrustBoth}, {RotateUploaded, rotateUpload}, {RotateSwitched, rotateSwitch},
		{RotateVerified, rotateVerify}, {RotateDeleted, rotateCleanup}, {RotateDropped, rotateDropOld},
	}
	for _, p := range phases {
		if slices.Index(rotatePhases, rot.Phase) >= slices.Index(rotatePhases, p.name) {
			continue
		}
		if !rot.NewCA && (p.name == RotateTrusted || p.name == RotateDropped) {
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
	for _, ch := range []PhaseChange{rot.Both, rot.Only} {
		if ch.Checkpoint != "" {
			r.Changes.Rotated = append(r.Changes.Rotated, ch)
		}
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

func rotatable(r *Rollout, newCA bool) error {
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
		if c.Dir == "" && !newCA {
			return fmt.Errorf("%w under the same CA: the CA key of %s is not in a certificate directory aopwizard made; rotate to a new CA, or issue a new certificate yourself and import it in a new rollout", ErrNotRotatable, c.CAFile)
		}
	}
	return nil
}

// rotationDir is where rotation n writes next to c's files.
func rotationDir(c CertRecord, n int) string {
	base := c.Dir
	if base == "" {
		base = filepath.Dir(c.CAFile)
	}
	return filepath.Join(base, fmt.Sprintf("rotation-%d", n))
}

// rotateIssue issues each new client certificate: from each record's CA
// into a new directory next to the old files, or with a new CA (and the
// bundle of both CAs the origin trusts during the switch).
func rotateIssue(ctx context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	kt, err := pki.ParseKeyType(r.Inputs.KeyType)
	if err != nil {
		return badInput(err, "")
	}
	if len(rot.New) == 0 {
		for _, c := range rot.Old {
			dir := rotationDir(c, r.Rotations+1)
			n := CertRecord{Dir: c.Dir, CAFile: c.CAFile, Hostnames: c.Hostnames, Generated: true,
				CertFile: filepath.Join(dir, pki.ClientCertFile), KeyFile: filepath.Join(dir, pki.ClientKeyFile)}
			if rot.NewCA {
				n.Dir, n.CAFile = dir, filepath.Join(dir, pki.CACertFile)
				rot.Bundles = append(rot.Bundles, filepath.Join(dir, "ca-bundle-old-and-new.pem"))
			}
			rot.New = append(rot.New, n)
		}
	}
	for i := range rot.New {
		c := &rot.New[i]
		if cert, err := readCert(c.CertFile); err == nil {
			if _, err := os.Stat(c.KeyFile); err == nil {
				describe(c, cert)
				if rot.NewCA {
					if err := writeBundle(rot.Old[i].CAFile, c.CAFile, rot.Bundles[i]); err != nil {
						return err
					}
				}
				continue
			}
		}
		if rot.NewCA {
			if err := issueNewCA(ctx, env, c, kt); err != nil {
				return err
			}
			if err := writeBundle(rot.Old[i].CAFile, c.CAFile, rot.Bundles[i]); err != nil {
				return err
			}
			continue
		}
		if err := issueSameCA(env, c, kt); err != nil {
			return err
		}
	}
	return nil
}

func issueSameCA(env *Env, c *CertRecord, kt pki.KeyType) error {
	r := env.Rollout
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
	return nil
}

// issueNewCA writes a new CA and client certificate into c.Dir, encrypted
// as the rollout's first CA key was.
func issueNewCA(ctx context.Context, env *Env, c *CertRecord, kt pki.KeyType) error {
	r := env.Rollout
	if !r.Inputs.NoPassphrase && len(env.Secrets.CAPassphrase) == 0 {
		return badInput(errors.New("no passphrase to encrypt the new CA key"), "give the CA passphrase, or agree to an unencrypted CA key")
	}
	set, err := pki.NewSetContext(ctx, pki.SetOptions{Domain: r.Inputs.Zone, Hostnames: c.Hostnames, KeyType: kt})
	if err != nil {
		return badInput(err, "")
	}
	if _, err := pki.WriteFiles(c.Dir, set, pki.WriteOptions{Passphrase: env.Secrets.CAPassphrase, Unencrypted: r.Inputs.NoPassphrase}); err != nil {
		if errors.Is(err, pki.ErrExists) {
			return fail(err, "move the half-written directory away and run the rotation again")
		}
		return fail(err, "")
	}
	describe(c, set.Client.Cert)
	env.info("wrote the new CA and client certificate to "+c.Dir+" (SHA-256 "+c.Fingerprint+", valid until "+c.NotAfter.Format("2006-01-02")+")", "dir", c.Dir, "fingerprint", c.Fingerprint)
	return nil
}

// writeBundle writes the old and the new CA into one file for the origin.
func writeBundle(oldCA, newCA, path string) error {
	var b []byte
	for _, f := range []string{oldCA, newCA} {
		data, err := os.ReadFile(f)
		if err != nil {
			return fail(fmt.Errorf("read the CA for the origin's bundle: %w", err), "restore the CA file and run the rotation again")
		}
		if _, err := pki.ParseCertificates(data); err != nil {
			return fail(fmt.Errorf("%s: %w", f, err), "restore the CA file and run the rotation again")
		}
		b = append(b, data...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
	}
	if err := renameio.WriteFile(path, b, pki.CertMode); err != nil {
		return fail(fmt.Errorf("write the origin's CA bundle: %w", err), "")
	}
	return nil
}

// rotateTrustBoth makes the origin trust the old and the new CA, in its
// current phase, and proves it accepts both certificates before the new
// one reaches Cloudflare.
func rotateTrustBoth(ctx context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	rot.Trust = TrustBoth
	phase := r.originPhase()
	env.info("the origin trusts the old and the new CA during the switch", "phase", string(phase))
	// The bundle is served in the phase the origin was already in: what
	// shows it is in place is the new certificate accepted.
	newLive := func(ctx context.Context) (bool, string) {
		return withCerts(r, rot.New, func() (bool, string) { return originLive(ctx, env, phase) })
	}
	if err := setPhaseUntil(ctx, env, render.Phase(phase), &rot.Both, newLive); err != nil {
		return err
	}
	if ok, detail := newLive(ctx); !ok {
		return fail(fmt.Errorf("the origin does not accept the new certificate with both CAs trusted: %s", detail),
			"nothing changed at Cloudflare; fix the cause and run the rotation again")
	}
	// Cloudflare presents the old certificate until the new one is
	// uploaded: an origin trusting only the new CA now would refuse it.
	if ok, detail := originLive(ctx, env, phase); !ok {
		return fail(fmt.Errorf("the origin no longer accepts the certificate Cloudflare presents now: %s", detail),
			"the origin must trust both CAs (the bundle) until the rotation deletes the old certificate; fix its config and run the rotation again")
	}
	return nil
}

// withCerts runs check as if certs were the rollout's certificates.
func withCerts(r *Rollout, certs []CertRecord, check func() (bool, string)) (bool, string) {
	old := r.Certificates
	r.Certificates = certs
	defer func() { r.Certificates = old }()
	return check()
}

// rotateDropOld makes the origin trust the new CA only, once the old
// certificate is gone from Cloudflare.
func rotateDropOld(ctx context.Context, env *Env, rot *Rotation) error {
	r := env.Rollout
	rot.Trust = TrustNew
	phase := r.originPhase()
	env.info("the old certificate is deleted: the origin now trusts the new CA only")
	// Both configs accept the new certificate; enforcing, the old one
	// refused tells them apart. In the soft phase every certificate is
	// accepted and both CAs carry the same name, so nothing outside can.
	oldRefused := func(ctx context.Context) (bool, string) {
		if phase != probe.Enforce {
			return true, ""
		}
		return withCerts(r, rot.Old, func() (bool, string) { return refusesRightCert(ctx, env) })
	}
	if r.Inputs.OriginConfig == OriginManual && phase != probe.Enforce {
		var cas []string
		for _, c := range rot.New {
			cas = append(cas, c.CAFile)
		}
		env.warn("in the soft phase the origin accepts every certificate, so whether it still trusts the old CA cannot be seen from outside: make sure its config trusts only " + strings.Join(cas, ", "))
	}
	return setPhaseUntil(ctx, env, render.Phase(phase), &rot.Only, oldRefused)
}

// refusesRightCert reports whether the enforcing origin refuses the
// rollout's certificates (here: the old ones), naming the first cell that
// still accepts one.
func refusesRightCert(ctx context.Context, env *Env) (bool, string) {
	rows, err := probeMatrix(ctx, env, probe.Enforce)
	if err != nil {
		return false, err.Error()
	}
	for _, x := range rows {
		if x.Kind == probe.KindRight && x.Class != probe.RejectedHTTP && x.Class != probe.RejectedTLS {
			return false, fmt.Sprintf("%s (%s) with the old CA's certificate: %s, want it refused", x.Origin, x.Host, x.Observed)
		}
	}
	return true, ""
}

// originPhase is the origin's current phase.
func (r *Rollout) originPhase() probe.Phase {
	if r.Changes.Phase == string(probe.Enforce) {
		return probe.Enforce
	}
	return probe.Soft
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
	old := r.Certificates
	r.Certificates = rot.New
	failures := matrix(ctx, env, r.originPhase())
	edge, _ := edgeProof(ctx, env)
	failures = append(failures, edge...)
	r.Certificates = old
	if len(failures) > 0 {
		return fail(fmt.Errorf("the origin does not accept the new certificate as it must: %s", strings.Join(failures, "; ")),
			"the old certificate is still uploaded and in use; fix the cause and run the rotation again")
	}
	return nil
}

// rotateCleanup deletes the old certificates this rollout uploaded; from
// then on the new ones are the rollout's.
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
	r.Certificates = rot.New
	return nil
}
