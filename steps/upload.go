package steps

import (
	"context"
	"fmt"
	"os"

	"github.com/aopwizard/aopwizard/cfapi"
)

// uploadStep uploads each client certificate and waits until Cloudflare has
// deployed it. Uploads are never sent twice: cfapi finds a certificate
// already present by fingerprint, and the state records that an upload was
// started before it is sent, so a resume knows the certificate is ours.
type uploadStep struct{}

func (uploadStep) Name() StepName { return StepUpload }

func (uploadStep) Run(ctx context.Context, env *Env) error {
	for i := range env.Rollout.Certificates {
		if err := uploadOne(ctx, env, &env.Rollout.Certificates[i]); err != nil {
			return err
		}
	}
	return nil
}

// uploadOne uploads c unless Cloudflare has it already, records its id
// (saved before the run goes on) and waits until it is active.
func uploadOne(ctx context.Context, env *Env, c *CertRecord) error {
	r := env.Rollout
	level := r.level()
	if err := dropTimedOut(ctx, env, c); err != nil {
		return err
	}
	if c.ID == "" {
		certPEM, err := os.ReadFile(c.CertFile)
		if err != nil {
			return fail(fmt.Errorf("read the client certificate: %w", err), "restore the certificate files, or roll back and start again")
		}
		env.info(fmt.Sprintf("review: uploading %s, issued by %s, serial %s, valid until %s, SHA-256 %s", c.Subject, c.Issuer, c.Serial, c.NotAfter.Format("2006-01-02"), c.Fingerprint), "subject", c.Subject, "issuer", c.Issuer, "serial", c.Serial,
			"not_after", c.NotAfter.Format("2006-01-02"), "fingerprint", c.Fingerprint, "level", string(level))
		found, ok, err := env.API.FindUploaded(ctx, r.Zone.ID, level, certPEM)
		if err != nil {
			return fail(fmt.Errorf("look for the certificate at Cloudflare: %w", err), "")
		}
		if ok {
			c.ID, c.Uploaded = found.ID, c.UploadStarted || c.Generated
			env.info("the certificate is already uploaded as "+found.ID, "id", found.ID)
		} else {
			keyPEM, err := os.ReadFile(c.KeyFile)
			if err != nil {
				return fail(fmt.Errorf("read the client key: %w", err), "restore the certificate files, or roll back and start again")
			}
			c.UploadStarted = true
			if err := env.checkpoint(); err != nil {
				return err
			}
			env.info("uploading the certificate to Cloudflare", "level", string(level))
			up, err := env.API.UploadCertificate(critical(ctx), r.Zone.ID, level, certPEM, keyPEM)
			clear(keyPEM)
			if err != nil {
				return fail(fmt.Errorf("upload the certificate: %w", err), "")
			}
			c.ID, c.Uploaded = up.ID, true
			env.info("uploaded as "+up.ID, "id", up.ID, "status", string(up.Status))
		}
		if err := env.checkpoint(); err != nil {
			return err
		}
	}
	got, err := env.API.WaitActive(ctx, r.Zone.ID, cfapi.CertRef{Level: level, ID: c.ID}, func(x cfapi.Certificate) {
		env.info("deployment: "+string(x.Status), "id", x.ID, "status", string(x.Status))
	})
	if err != nil {
		if cfapi.IsKind(err, cfapi.KindDeploymentTimedOut) && c.Uploaded {
			return fail(fmt.Errorf("Cloudflare timed out deploying certificate %s: %w", c.ID, err), "resume to delete it and upload it again")
		}
		return fail(fmt.Errorf("certificate %s did not become active: %w", c.ID, err), "resume to wait again")
	}
	if c.Serial == "" {
		c.Serial = got.SerialNumber
	}
	if c.NotAfter.IsZero() {
		c.NotAfter = got.ExpiresOn
	}
	env.info("certificate "+c.ID+" is active", "id", c.ID)
	return nil
}

// Check: every certificate has an id and is active. A certificate whose id
// a crash lost is found by fingerprint.
func (uploadStep) Check(ctx context.Context, env *Env) (bool, error) {
	r := env.Rollout
	for i := range r.Certificates {
		c := &r.Certificates[i]
		if c.ID == "" {
			certPEM, err := os.ReadFile(c.CertFile)
			if err != nil {
				return false, nil
			}
			found, ok, err := env.API.FindUploaded(ctx, r.Zone.ID, r.level(), certPEM)
			if err != nil || !ok {
				return false, err
			}
			c.ID, c.Uploaded = found.ID, c.UploadStarted || c.Generated
		}
		got, err := env.API.GetCertificate(ctx, r.Zone.ID, cfapi.CertRef{Level: r.level(), ID: c.ID})
		if cfapi.IsKind(err, cfapi.KindNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if got.Status != cfapi.StatusActive {
			return false, nil
		}
	}
	return true, nil
}

// Undo deletes the certificates this rollout uploaded (hostname
// associations were voided by the enable step's undo before).
func (uploadStep) Undo(ctx context.Context, env *Env) error {
	r := env.Rollout
	for i := range r.Certificates {
		c := &r.Certificates[i]
		if !c.Uploaded || c.ID == "" {
			continue
		}
		_, err := env.API.DeleteCertificate(ctx, r.Zone.ID, cfapi.CertRef{Level: r.level(), ID: c.ID})
		if err != nil && !cfapi.IsKind(err, cfapi.KindNotFound) {
			return fmt.Errorf("delete certificate %s: %w", c.ID, err)
		}
		env.info("deleted the uploaded certificate", "id", c.ID)
		c.ID, c.Uploaded, c.UploadStarted = "", false, false
	}
	return nil
}

// dropTimedOut deletes a certificate of ours whose deployment Cloudflare
// timed out (it never becomes active), so the upload can be sent again.
func dropTimedOut(ctx context.Context, env *Env, c *CertRecord) error {
	r := env.Rollout
	if c.ID == "" || !c.Uploaded {
		return nil
	}
	got, err := env.API.GetCertificate(ctx, r.Zone.ID, cfapi.CertRef{Level: r.level(), ID: c.ID})
	if err != nil || got.Status != cfapi.StatusDeploymentTimedOut {
		return nil // WaitActive reports what is wrong
	}
	env.warn("Cloudflare timed out deploying certificate "+c.ID+"; deleting it and uploading it again", "id", c.ID)
	if _, err := env.API.DeleteCertificate(critical(ctx), r.Zone.ID, got.Ref()); err != nil && !cfapi.IsKind(err, cfapi.KindNotFound) {
		return fail(fmt.Errorf("delete the timed-out certificate %s: %w", c.ID, err), "")
	}
	c.ID, c.Uploaded, c.UploadStarted = "", false, false
	return env.checkpoint()
}
