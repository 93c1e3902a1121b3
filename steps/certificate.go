package steps

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/pki"
)

// certificateStep makes or finds the client certificate(s) and the CA the
// origin will trust: generated with pki, imported (pki.Check must pass),
// already uploaded (reuse), or Cloudflare's CA in global mode.
type certificateStep struct{}

func (certificateStep) Name() StepName { return StepCertificate }

func (certificateStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	switch r.Inputs.CertSource {
	case CertCloudflare:
		return writeGlobalCA(env)
	case CertImport:
		return importCert(env)
	case CertReuse:
		return reuseCert(ctx, env)
	}
	kt, err := pki.ParseKeyType(r.Inputs.KeyType)
	if err != nil {
		return badInput(err, "choose a supported key type")
	}
	if !r.Inputs.NoPassphrase && len(env.Secrets.CAPassphrase) == 0 {
		return badInput(errors.New("no passphrase to encrypt the CA key"), "give the CA passphrase, or agree to an unencrypted CA key")
	}
	for i := range r.Certificates {
		c := &r.Certificates[i]
		if ok, err := adoptSet(c, r); err != nil {
			return err
		} else if ok {
			env.info("found the certificate already written in "+c.Dir, "fingerprint", c.Fingerprint)
			continue
		}
		env.info("generating a CA and client certificate ("+string(kt)+")", "dir", c.Dir, "key_type", string(kt))
		set, err := pki.NewSet(pki.SetOptions{Domain: r.Inputs.Zone, Hostnames: c.Hostnames, KeyType: kt})
		if err != nil {
			return badInput(err, "")
		}
		if _, err := pki.WriteFiles(c.Dir, set, pki.WriteOptions{Passphrase: env.Secrets.CAPassphrase, Unencrypted: r.Inputs.NoPassphrase}); err != nil {
			if errors.Is(err, pki.ErrExists) {
				return badInput(err, "choose an empty certificate directory, or import the existing certificate")
			}
			return fail(err, "")
		}
		c.Generated = true
		describe(c, set.Client.Cert)
		env.info("wrote the CA and client certificate to "+c.Dir+" (SHA-256 "+c.Fingerprint+", valid until "+c.NotAfter.Format("2006-01-02")+")", "dir", c.Dir, "fingerprint", c.Fingerprint, "not_after", c.NotAfter.Format("2006-01-02"))
	}
	return nil
}

// adoptSet takes a set a crashed run already wrote (files present, naming
// the planned hostnames) instead of failing on existing files.
func adoptSet(c *CertRecord, r *Rollout) (bool, error) {
	if pki.CheckNoFiles(c.Dir) == nil {
		return false, nil
	}
	cert, err := readCert(c.CertFile)
	if err != nil {
		return false, nil
	}
	if c.Fingerprint != "" && pki.Fingerprint(cert) != c.Fingerprint {
		return false, nil
	}
	for _, h := range c.Hostnames {
		if !pki.NamesHostname(cert, h) {
			return false, nil
		}
	}
	if len(c.Hostnames) == 0 && !pki.NamesHostname(cert, r.Inputs.Zone) {
		return false, nil
	}
	if _, err := readCert(c.CAFile); err != nil {
		return false, nil
	}
	if c.Fingerprint == "" {
		c.Generated = true
	}
	describe(c, cert)
	return true, nil
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs[0], nil
}

func describe(c *CertRecord, cert *x509.Certificate) {
	c.Subject, c.Issuer = cert.Subject.String(), cert.Issuer.String()
	c.Serial, c.Fingerprint, c.NotAfter = cert.SerialNumber.String(), pki.Fingerprint(cert), cert.NotAfter.UTC()
}

func writeGlobalCA(env *Env) error {
	c := &env.Rollout.Certificates[0]
	pem := env.GlobalCAPEM
	certs, err := pki.ParseCertificates(pem)
	if err != nil {
		return fail(fmt.Errorf("the global CA: %w", err), "")
	}
	if err := os.MkdirAll(env.Rollout.Inputs.CertDir, pki.DirMode); err != nil {
		return fail(err, "")
	}
	if err := renameio.WriteFile(c.CAFile, pem, pki.CertMode); err != nil {
		return fail(fmt.Errorf("write the global CA: %w", err), "")
	}
	describe(c, certs[0])
	env.info("the origin will trust Cloudflare's global AOP CA", "ca_file", c.CAFile, "subject", c.Subject)
	return nil
}

func importCert(env *Env) error {
	c := &env.Rollout.Certificates[0]
	read := func(p string) ([]byte, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, badInput(fmt.Errorf("read %s: %w", p, err), "")
		}
		return b, nil
	}
	ca, err := read(c.CAFile)
	if err != nil {
		return err
	}
	cert, err := read(c.CertFile)
	if err != nil {
		return err
	}
	key, err := read(c.KeyFile)
	if err != nil {
		return err
	}
	rep := pki.Check(pki.CheckInput{CA: ca, Cert: cert, Key: key, CAName: c.CAFile, CertName: c.CertFile, KeyName: c.KeyFile,
		Hostnames: c.Hostnames, Now: env.now()})
	for _, w := range rep.Warnings {
		env.warn(w.Message, "remedy", w.Remedy)
	}
	if !rep.OK() {
		var msgs []string
		for _, p := range rep.Problems {
			msgs = append(msgs, p.Message+" ("+p.Remedy+")")
		}
		return badInput(fmt.Errorf("the imported certificate is not fit for AOP: %s", strings.Join(msgs, "; ")), "fix the files (the certificate check lists every problem) and start again")
	}
	describe(c, rep.Chain[0])
	env.info("imported certificate checked", "fingerprint", c.Fingerprint, "subject", c.Subject)
	return nil
}

// reuseCert adopts a certificate already uploaded, by id or fingerprint.
func reuseCert(ctx context.Context, env *Env) error {
	r := env.Rollout
	c := &r.Certificates[0]
	level := r.level()
	certs, err := env.API.ListCertificates(ctx, r.Zone.ID, level)
	if err != nil {
		return fail(fmt.Errorf("list the uploaded certificates: %w", err), "")
	}
	ref := r.Inputs.ReuseCert
	i := slices.IndexFunc(certs, func(x cfapi.Certificate) bool {
		if x.Status.Gone() {
			return false
		}
		if x.ID == ref {
			return true
		}
		parsed, err := pki.ParseCertificates([]byte(x.PEM))
		return err == nil && strings.EqualFold(pki.Fingerprint(parsed[0]), ref)
	})
	if i < 0 {
		return badInput(fmt.Errorf("no %s certificate %s in zone %s", level, ref, r.Zone.Name), "list the zone's certificates in the dashboard and give an id or SHA-256 fingerprint")
	}
	found := certs[i]
	c.ID, c.Serial, c.NotAfter = found.ID, found.SerialNumber, found.ExpiresOn
	if parsed, err := pki.ParseCertificates([]byte(found.PEM)); err == nil {
		describe(c, parsed[0])
		if ca, err := readCert(c.CAFile); err == nil && parsed[0].CheckSignatureFrom(ca) != nil {
			return badInput(fmt.Errorf("certificate %s was not issued by the CA in %s", found.ID, c.CAFile), "give the CA that issued the uploaded certificate")
		}
	}
	env.info("reusing the uploaded certificate", "id", c.ID, "fingerprint", c.Fingerprint)
	return nil
}

func (r *Rollout) level() cfapi.Level {
	if r.Inputs.Mode == ModeHostname {
		return cfapi.LevelHostname
	}
	return cfapi.LevelZone
}

// Check finds the files (or, for reuse, the id) in place.
func (certificateStep) Check(_ context.Context, env *Env) (bool, error) {
	r := env.Rollout
	for i := range r.Certificates {
		c := &r.Certificates[i]
		switch r.Inputs.CertSource {
		case CertGenerate:
			if ok, err := adoptSet(c, r); err != nil || !ok {
				return false, err
			}
		case CertReuse:
			if c.ID == "" {
				return false, nil
			}
		default:
			if _, err := readCert(c.CAFile); err != nil || c.Fingerprint == "" {
				return false, nil
			}
		}
	}
	return true, nil
}

// Undo keeps the files: a generated CA key may be the operator's only copy.
func (certificateStep) Undo(_ context.Context, env *Env) error {
	for _, c := range env.Rollout.Certificates {
		if c.Generated {
			env.info("kept the certificate files in "+c.Dir+" (delete them yourself once no origin trusts this CA)", "dir", c.Dir)
		}
	}
	return nil
}
