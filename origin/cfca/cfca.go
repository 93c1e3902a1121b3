// Package cfca embeds Cloudflare's global Authenticated Origin Pulls CA
// certificate, the CA an origin trusts in global AOP mode.
//
// The certificate is pinned: at load the DER is checked against Fingerprint,
// so a corrupted or swapped file fails the build's tests and every caller,
// instead of silently making an origin trust the wrong CA.
package cfca

import (
	"bytes"
	"crypto/x509"
	_ "embed" // the CA file ships inside the binary
	"encoding/pem"
	"fmt"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

//go:embed authenticated_origin_pull_ca.pem
var embedded []byte

// Fingerprint is the SHA-256 fingerprint of the CA certificate's DER, in the
// colon-separated upper-case form openssl prints.
const Fingerprint = "9A:1A:C2:B4:BE:15:F9:F2:7E:EE:20:A7:34:CB:A4:E9:89:8F:61:00:1B:3B:D7:C8:4B:69:B5:6A:3E:25:A2:B9"

// Expiry is the CA's NotAfter as published; Cloudflare has to rotate it
// before then and origins have to follow.
var Expiry = time.Date(2029, time.November, 1, 17, 0, 0, 0, time.UTC)

var (
	pemBlock []byte
	cert     *x509.Certificate
)

func init() {
	var err error
	pemBlock, cert, err = load(embedded, Fingerprint)
	if err != nil {
		// A broken embedded CA is a build defect; no caller could work around it.
		panic(fmt.Sprintf("cfca: %v", err))
	}
}

// load extracts the single PEM block from data (ignoring the comment header)
// and checks it against the pinned fingerprint.
func load(data []byte, fingerprint string) ([]byte, *x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("embedded CA holds no CERTIFICATE block")
	}
	if extra, _ := pem.Decode(rest); extra != nil {
		return nil, nil, fmt.Errorf("embedded CA holds more than one PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parse embedded CA: %w", err)
	}
	if got := pki.Fingerprint(c); got != fingerprint {
		return nil, nil, fmt.Errorf("embedded CA fingerprint %s does not match the pinned %s", got, fingerprint)
	}
	if !c.IsCA {
		return nil, nil, fmt.Errorf("embedded certificate %q is not a CA", c.Subject)
	}
	return pem.EncodeToMemory(block), c, nil
}

// PEM returns the bare PEM block (no comment header), ready to be written as
// an origin's CA bundle or appended to one. The slice is a fresh copy.
func PEM() []byte { return bytes.Clone(pemBlock) }

// Cert returns the parsed CA certificate. Callers must not modify it.
func Cert() *x509.Certificate { return cert }

// ExpiryWarning returns a warning for the operator when the CA expires
// within days of now (or already has), and "" otherwise.
func ExpiryWarning(now time.Time, days int) string {
	left := cert.NotAfter.Sub(now)
	switch {
	case left <= 0:
		return fmt.Sprintf("Cloudflare's global origin-pull CA expired on %s: origins trusting only it reject Cloudflare's new certificate; install the current CA from https://developers.cloudflare.com/ssl/static/authenticated_origin_pull_ca.pem",
			cert.NotAfter.UTC().Format(time.DateOnly))
	case left <= time.Duration(days)*24*time.Hour:
		return fmt.Sprintf("Cloudflare's global origin-pull CA expires on %s (in %d days): watch for Cloudflare's replacement CA and add it to the origin's CA bundle before then",
			cert.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24))
	}
	return ""
}
