package cfapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	ota "github.com/cloudflare/cloudflare-go/v7/origin_tls_client_auth"
)

// cfTime tolerates null, "" and Cloudflare's fractional RFC 3339 stamps.
type cfTime struct{ time.Time }

func (t *cfTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil || *s == "" {
		return nil
	}
	v, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// certJSON is a zone or hostname certificate as the API returns it. The
// 2024 spec put association fields on the hostname list, so cert_id and
// cert_status are read as fallbacks.
type certJSON struct {
	ID           string `json:"id"`
	CertID       string `json:"cert_id"`
	Certificate  string `json:"certificate"`
	Issuer       string `json:"issuer"`
	Signature    string `json:"signature"`
	SerialNumber string `json:"serial_number"`
	Status       Status `json:"status"`
	CertStatus   Status `json:"cert_status"`
	ExpiresOn    cfTime `json:"expires_on"`
	UploadedOn   cfTime `json:"uploaded_on"`
}

func (j certJSON) cert(level Level) Certificate {
	c := Certificate{Level: level, ID: j.ID, Status: j.Status, Issuer: j.Issuer, Signature: j.Signature,
		SerialNumber: j.SerialNumber, ExpiresOn: j.ExpiresOn.Time, UploadedOn: j.UploadedOn.Time, PEM: j.Certificate}
	if c.ID == "" {
		c.ID = j.CertID
	}
	if c.Status == "" {
		c.Status = j.CertStatus
	}
	if c.SerialNumber == "" {
		// Zone-level answers may lack serial_number (docs/cloudflare-api.md,
		// "Open questions"); the PEM has it.
		if x, err := parseCertPEM([]byte(c.PEM)); err == nil {
			c.SerialNumber = x.SerialNumber.String()
		}
	}
	return c
}

// zoneParams sets the zone_id path parameter. The SDK's params for
// body-less zone calls are all this one-field struct, so callers convert it
// (ota.ZoneCertificateGetParams(zp)) instead of filling each type.
func zoneParams(zoneID string) ota.ZoneCertificateListParams {
	var p ota.ZoneCertificateListParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	return p
}

func certOp(verb string, level Level, method, suffix string) *opSpec {
	path := "zones/{zone_id}/origin_tls_client_auth"
	if level == LevelHostname {
		path += "/hostnames/certificates"
	}
	perm := PermSSLRead
	if method != http.MethodGet {
		perm = PermSSLWrite
	}
	op := &opSpec{name: verb + " " + string(level) + "-level certificate", method: method, path: path + suffix,
		perm: perm, idempotent: method != http.MethodPost}
	if level == LevelHostname && method == http.MethodPost {
		op.limit = KindCertLimit
	}
	return op
}

func checkLevel(level Level) error {
	if level != LevelZone && level != LevelHostname {
		return fmt.Errorf("unknown certificate level %q: want %q or %q", level, LevelZone, LevelHostname)
	}
	return nil
}

// UploadCertificate implements Client.
func (c *SDKClient) UploadCertificate(ctx context.Context, zoneID string, level Level, certPEM, keyPEM []byte) (Certificate, error) {
	if err := checkLevel(level); err != nil {
		return Certificate{}, err
	}
	if _, err := parseCertPEM(certPEM); err != nil {
		return Certificate{}, fmt.Errorf("upload %s-level certificate: %w", level, err)
	}
	op := certOp("upload", level, http.MethodPost, "")
	var found Certificate
	op.landed = func(ctx context.Context) (bool, error) {
		var ok bool
		var err error
		found, ok, err = c.FindUploaded(ctx, zoneID, level, certPEM)
		return ok, err
	}
	var p ota.ZoneCertificateNewParams
	p.ZoneID.Value, p.ZoneID.Present = zoneID, true
	p.Certificate.Value, p.Certificate.Present = string(certPEM), true
	p.PrivateKey.Value, p.PrivateKey.Present = string(keyPEM), true
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[certJSON]) error {
		var err error
		if level == LevelZone {
			_, err = c.zoneCerts.New(ctx, p, at.opts(env)...)
		} else {
			_, err = c.hostCerts.New(ctx, ota.HostnameCertificateNewParams(p), at.opts(env)...)
		}
		return err
	})
	switch {
	case errors.Is(err, errLanded):
		return found, nil
	case IsKind(err, KindDuplicate):
		// Uploaded by an earlier run: reuse it rather than fail a resumed step.
		if f, ok, ferr := c.FindUploaded(ctx, zoneID, level, certPEM); ferr == nil && ok {
			return f, nil
		}
		return Certificate{}, err
	case err != nil:
		return Certificate{}, err
	}
	return res.cert(level), nil
}

// ListCertificates implements Client.
func (c *SDKClient) ListCertificates(ctx context.Context, zoneID string, level Level) ([]Certificate, error) {
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	zp := zoneParams(zoneID)
	res, _, err := call(ctx, c, certOp("list", level, http.MethodGet, ""), func(ctx context.Context, at *attempt, env *envelope[[]certJSON]) error {
		var err error
		if level == LevelZone {
			_, err = c.zoneCerts.List(ctx, zp, at.opts(env)...)
		} else {
			_, err = c.hostCerts.List(ctx, ota.HostnameCertificateListParams(zp), at.opts(env)...)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Certificate, 0, len(res))
	for _, j := range res {
		out = append(out, j.cert(level))
	}
	return out, nil
}

// GetCertificate implements Client.
func (c *SDKClient) GetCertificate(ctx context.Context, zoneID string, ref CertRef) (Certificate, error) {
	return c.certByID(ctx, zoneID, ref, http.MethodGet)
}

// DeleteCertificate implements Client. A hostname certificate must have its
// associations voided first (VoidHostnames).
func (c *SDKClient) DeleteCertificate(ctx context.Context, zoneID string, ref CertRef) (Certificate, error) {
	return c.certByID(ctx, zoneID, ref, http.MethodDelete)
}

func (c *SDKClient) certByID(ctx context.Context, zoneID string, ref CertRef, method string) (Certificate, error) {
	if err := checkLevel(ref.Level); err != nil {
		return Certificate{}, err
	}
	verb := "get"
	if method == http.MethodDelete {
		verb = "delete"
	}
	zp := zoneParams(zoneID)
	res, _, err := call(ctx, c, certOp(verb, ref.Level, method, "/{certificate_id}"), func(ctx context.Context, at *attempt, env *envelope[certJSON]) error {
		var err error
		switch {
		case method == http.MethodGet && ref.Level == LevelZone:
			_, err = c.zoneCerts.Get(ctx, ref.ID, ota.ZoneCertificateGetParams(zp), at.opts(env)...)
		case method == http.MethodGet:
			_, err = c.hostCerts.Get(ctx, ref.ID, ota.HostnameCertificateGetParams(zp), at.opts(env)...)
		case ref.Level == LevelZone:
			_, err = c.zoneCerts.Delete(ctx, ref.ID, ota.ZoneCertificateDeleteParams(zp), at.opts(env)...)
		default:
			_, err = c.hostCerts.Delete(ctx, ref.ID, ota.HostnameCertificateDeleteParams(zp), at.opts(env)...)
		}
		return err
	})
	switch {
	case errors.Is(err, errAlreadyGone):
		return Certificate{Level: ref.Level, ID: ref.ID, Status: StatusDeleted}, nil
	case err != nil:
		return Certificate{}, err
	}
	cert := res.cert(ref.Level)
	if cert.ID == "" {
		cert.ID = ref.ID
	}
	return cert, nil
}

// FindUploaded implements Client.
func (c *SDKClient) FindUploaded(ctx context.Context, zoneID string, level Level, certPEM []byte) (Certificate, bool, error) {
	want, err := parseCertPEM(certPEM)
	if err != nil {
		return Certificate{}, false, fmt.Errorf("find uploaded certificate: %w", err)
	}
	wantFP := sha256.Sum256(want.Raw)
	certs, err := c.ListCertificates(ctx, zoneID, level)
	if err != nil {
		return Certificate{}, false, err
	}
	for _, cert := range certs {
		if cert.Status.Gone() {
			continue
		}
		if got, err := parseCertPEM([]byte(cert.PEM)); err == nil {
			if sha256.Sum256(got.Raw) == wantFP {
				return cert, true, nil
			}
			continue
		}
		if cert.SerialNumber != "" && cert.SerialNumber == want.SerialNumber.String() {
			return cert, true, nil
		}
	}
	return Certificate{}, false, nil
}

// errDeployTimeout is WaitActive's own deadline, told apart from the caller's.
var errDeployTimeout = errors.New("deploy timeout")

// WaitActive implements Client.
func (c *SDKClient) WaitActive(ctx context.Context, zoneID string, ref CertRef, progress func(Certificate)) (Certificate, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.cfg.DeployTimeout, errDeployTimeout)
	defer cancel()
	what := fmt.Sprintf("wait for %s-level certificate %s", ref.Level, ref.ID)
	delay := c.cfg.PollInterval
	var last Certificate
	for {
		cert, err := c.GetCertificate(ctx, zoneID, ref)
		if err != nil {
			return last, c.waitErr(ctx, what, string(last.Status), err)
		}
		last = cert
		if progress != nil {
			progress(cert)
		}
		switch {
		case cert.Status == StatusActive:
			return cert, nil
		case cert.Status == StatusDeploymentTimedOut:
			e := &APIError{Op: what, Kind: KindDeploymentTimedOut, Permission: PermSSLWrite,
				Explanation: "Cloudflare reports deployment_timed_out: it could not deploy the certificate to its edge",
				Remedy:      "delete this certificate and upload it again; if the upload is rejected as a duplicate, issue a new certificate"}
			return cert, e
		case cert.Status.Gone():
			return cert, fmt.Errorf("%s: the certificate is %s and will never become active: upload it again", what, cert.Status)
		}
		if err := c.cfg.Sleep(ctx, delay); err != nil {
			return cert, c.waitErr(ctx, what, string(cert.Status), err)
		}
		delay = min(delay*3/2, c.cfg.PollMaxInterval)
	}
}

// waitErr explains why a wait ended early: our deploy timeout (Cloudflare
// may still finish), or the caller's context.
func (c *SDKClient) waitErr(ctx context.Context, what, status string, err error) error {
	if errors.Is(context.Cause(ctx), errDeployTimeout) {
		return fmt.Errorf("%s: still %s after %s; Cloudflare may still finish, so run the step again later: %w",
			what, orUnknown(status), c.cfg.DeployTimeout, context.DeadlineExceeded)
	}
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%s (last status %s): %w", what, orUnknown(status), ctx.Err())
	}
	if status == "" {
		return err
	}
	return fmt.Errorf("%s (last status %s): %w", what, status, err)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// parseCertPEM returns the first certificate in b.
func parseCertPEM(b []byte) (*x509.Certificate, error) {
	rest := bytes.TrimSpace(b)
	for len(rest) > 0 {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
	if strings.Contains(string(b), "PRIVATE KEY") && !strings.Contains(string(b), "CERTIFICATE") {
		return nil, errors.New("expected a PEM certificate but got a private key: give the certificate, not its key")
	}
	return nil, errors.New("no PEM CERTIFICATE block found: give the PEM-encoded leaf certificate")
}
