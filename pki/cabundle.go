package pki

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// ErrCABundle is wrapped by ParseCABundle, ReadCABundle and CheckCABundle
// when a CA bundle cannot serve as the origin's trust anchors: given to a
// server, such a bundle rejects Cloudflare's client certificate once the
// enforce phase starts, which is an outage.
var ErrCABundle = errors.New("not a usable CA bundle")

// ErrClientNotTrusted is wrapped by CheckCABundle when the client
// certificate does not chain to the bundle: the origin would reject it.
var ErrClientNotTrusted = errors.New("the client certificate does not chain to the CA bundle")

// MaxCABundleSize caps what ReadCABundle reads: a bundle of a few hundred
// CAs stays far below it, and a wrong path (a device, a log) fails fast.
const MaxCABundleSize = 1 << 20

// CAExpiryWarning is how close to its end a CA's validity must be for
// CheckCABundle to warn.
const CAExpiryWarning = 30 * 24 * time.Hour

// ParseCABundle reads a CA bundle the way origin servers load one (nginx
// ssl_client_certificate, Apache SSLCACertificateFile, HAProxy ca-file):
// PEM only, certificates only, and each one a CA (CA:TRUE, or a
// self-signed version 1 root, which OpenSSL also trusts). A private key in
// a bundle would be served to anyone who can read the configuration, and a
// leaf certificate there is the classic mistake of passing the client
// certificate instead of its CA.
func ParseCABundle(data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: the file is empty; give the CA certificate (PEM, -----BEGIN CERTIFICATE-----) that issued the client certificate", ErrCABundle)
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return nil, fmt.Errorf("%w: no PEM block found; servers read CA bundles as PEM: convert a DER file with openssl x509 -inform der -in ca.der -out ca.pem", ErrCABundle)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			break
		}
		b, after := pem.Decode(rest[i:])
		if b == nil {
			return nil, fmt.Errorf("%w: a PEM block is truncated or damaged: copy the whole file again, from -----BEGIN to -----END", ErrCABundle)
		}
		rest = after
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: it holds a %s block; a CA bundle must hold only certificates (a key there would be readable by anyone who can read the server's configuration): keep only the CA certificates", ErrCABundle, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d cannot be parsed (%w): check that the file was copied whole", ErrCABundle, len(certs)+1, err)
		}
		if !isCA(c) {
			return nil, fmt.Errorf("%w: certificate %d (%s) is not a CA (no CA:TRUE basic constraint), so servers reject every client certificate against it; give the CA that issued the client certificate, not the client certificate itself", ErrCABundle, len(certs)+1, c.Subject)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// isCA reports whether servers accept c as a trust anchor: CA:TRUE, or a
// version 1 certificate that signed itself (v1 has no extensions at all).
func isCA(c *x509.Certificate) bool {
	if c.BasicConstraintsValid {
		return c.IsCA
	}
	return c.Version == 1 && bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

// ReadCABundle reads and parses the CA bundle file at path. It reads at
// most MaxCABundleSize bytes and only from a regular file, so a wrong path
// (a directory, a device, a pipe) fails at once instead of hanging.
func ReadCABundle(path string) ([]byte, []*x509.Certificate, error) {
	data, err := ReadRegular(path, MaxCABundleSize, "CA bundle")
	if err != nil {
		return nil, nil, err
	}
	certs, err := ParseCABundle(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, certs, nil
}

// LoadCAPool reads the CA bundle file at path into a pool of trust
// anchors, with the checks of ReadCABundle.
func LoadCAPool(path string) (*x509.CertPool, error) {
	_, certs, err := ReadCABundle(path)
	if err != nil {
		return nil, err
	}
	return CAPool(certs), nil
}

// CAPool returns a pool holding certs.
func CAPool(certs []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// ReadClientChain reads a client certificate file, as ReadCABundle reads
// a bundle (a regular file, at most MaxCABundleSize): the certificate
// first, then any chain.
func ReadClientChain(path string) ([]*x509.Certificate, error) {
	data, err := ReadRegular(path, MaxCABundleSize, "client certificate file")
	if err != nil {
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// CheckCABundle checks that bundlePEM can serve as the origin's CA file at
// now: ParseCABundle's checks, every CA valid (expired or not yet valid is
// an error, fewer than CAExpiryWarning left a warning), and, when client
// is known, that client (with its intermediates) chains to the bundle for
// client authentication. A nil client skips the chain check. Warnings are
// sentences for the operator.
func CheckCABundle(bundlePEM []byte, client *x509.Certificate, now time.Time, intermediates ...*x509.Certificate) (warnings []string, err error) {
	cas, err := ParseCABundle(bundlePEM)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, c := range cas {
		switch {
		case now.After(c.NotAfter):
			errs = append(errs, fmt.Errorf("%w: CA %s expired on %s, so servers reject every client certificate it issued; issue a new CA and client certificate (and upload it to Cloudflare) before enforcing", ErrCABundle, c.Subject, c.NotAfter.UTC().Format(time.DateOnly)))
		case now.Before(c.NotBefore):
			errs = append(errs, fmt.Errorf("%w: CA %s is valid only from %s; check this machine's clock, or wait", ErrCABundle, c.Subject, c.NotBefore.UTC().Format(time.RFC3339)))
		case c.NotAfter.Sub(now) < CAExpiryWarning:
			warnings = append(warnings, fmt.Sprintf("CA %s expires on %s (in %d days); after that the origin rejects every client certificate it issued: rotate to a new CA before then (keep both in the bundle during the rotation)",
				c.Subject, c.NotAfter.UTC().Format(time.DateOnly), int(c.NotAfter.Sub(now).Hours()/24)))
		}
	}
	if client != nil {
		inter := x509.NewCertPool()
		for _, c := range intermediates {
			inter.AddCert(c)
		}
		_, verr := client.Verify(x509.VerifyOptions{
			Roots: CAPool(cas), Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		if verr != nil {
			errs = append(errs, fmt.Errorf("%w: %s (issued by %s): %w; the origin would reject it once the enforce phase starts: give the bundle of the CA that issued this certificate, or the certificate that is uploaded to Cloudflare", ErrClientNotTrusted, client.Subject, client.Issuer, verr))
		}
	}
	return warnings, errors.Join(errs...)
}
