package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// CertInfo is what an operator wants to know about a certificate.
type CertInfo struct {
	Subject            string    `json:"subject"`
	Issuer             string    `json:"issuer"`
	Serial             string    `json:"serial"`
	NotBefore          time.Time `json:"not_before"`
	NotAfter           time.Time `json:"not_after"`
	DaysLeft           int       `json:"days_left"` // negative once expired
	KeyType            string    `json:"key_type"`
	SignatureAlgorithm string    `json:"signature_algorithm"`
	SHA256             string    `json:"sha256_fingerprint"`
	IsCA               bool      `json:"is_ca"`
	BasicConstraints   bool      `json:"basic_constraints"` // the extension is present
	SelfSigned         bool      `json:"self_signed"`
	DNSNames           []string  `json:"dns_names,omitempty"`
	ExtKeyUsage        []string  `json:"ext_key_usage,omitempty"`
}

// KeyInfo describes a private key without revealing it. KeyType is empty
// for an encrypted key read without its passphrase.
type KeyInfo struct {
	KeyType   string `json:"key_type,omitempty"`
	Encrypted bool   `json:"encrypted"`
}

// FileInfo is everything found in one file.
type FileInfo struct {
	File         string     `json:"file"`
	Certificates []CertInfo `json:"certificates,omitempty"`
	Key          *KeyInfo   `json:"private_key,omitempty"`
}

// Fingerprint is the SHA-256 of the certificate's DER, in the colon-separated
// upper-case hex that openssl x509 -fingerprint -sha256 and the Cloudflare
// dashboard show.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	var sb strings.Builder
	for i, v := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", v)
	}
	return sb.String()
}

var extKeyUsageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:        "any",
	x509.ExtKeyUsageServerAuth: "serverAuth",
	x509.ExtKeyUsageClientAuth: "clientAuth",
}

// InspectCertificate describes c as of now.
func InspectCertificate(c *x509.Certificate, now time.Time) CertInfo {
	info := CertInfo{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		Serial:             strings.ToUpper(c.SerialNumber.Text(16)),
		NotBefore:          c.NotBefore.UTC(),
		NotAfter:           c.NotAfter.UTC(),
		DaysLeft:           int(c.NotAfter.Sub(now).Hours() / 24),
		KeyType:            DescribeKey(c.PublicKey),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		SHA256:             Fingerprint(c),
		IsCA:               c.IsCA,
		BasicConstraints:   c.BasicConstraintsValid,
		SelfSigned:         c.CheckSignatureFrom(c) == nil,
		DNSNames:           c.DNSNames,
	}
	for _, u := range c.ExtKeyUsage {
		name, ok := extKeyUsageNames[u]
		if !ok {
			name = fmt.Sprintf("usage-%d", u)
		}
		info.ExtKeyUsage = append(info.ExtKeyUsage, name)
	}
	return info
}

// Inspect describes the certificates and private key in data (PEM or DER).
// passphrase, when given, decrypts an encrypted key to tell its type. It
// fails when data holds neither.
func Inspect(name string, data, passphrase []byte, now time.Time) (*FileInfo, error) {
	fi := &FileInfo{File: name}
	certs, certErr := ParseCertificates(data)
	for _, c := range certs {
		fi.Certificates = append(fi.Certificates, InspectCertificate(c, now))
	}
	key, encrypted, keyErr := parsePrivateKey(data, passphrase)
	switch {
	case keyErr == nil:
		fi.Key = &KeyInfo{KeyType: DescribeKey(key.Public()), Encrypted: encrypted}
	case errors.Is(keyErr, ErrEncryptedKey):
		fi.Key = &KeyInfo{Encrypted: true}
	}
	if len(fi.Certificates) > 0 || fi.Key != nil {
		return fi, nil
	}
	// Neither: report the error that says most about what the file is.
	switch {
	case !looksPEM(data) && errors.Is(certErr, ErrNotCertificate) && errors.Is(keyErr, ErrNotPrivateKey):
		return nil, fmt.Errorf("%w: the file holds neither a certificate nor a private key (PEM or DER): check that you picked the right file", ErrNotCertificate)
	case errors.Is(certErr, ErrNotCertificate) && !errors.Is(keyErr, ErrNotPrivateKey):
		// The file holds a key that failed to load: why it failed is the
		// news, not that a key is no certificate.
		return nil, keyErr
	}
	return nil, certErr
}

// WriteText prints fi for a terminal.
func (fi *FileInfo) WriteText(w io.Writer) error {
	var b strings.Builder
	for i, c := range fi.Certificates {
		fmt.Fprintf(&b, "%s: certificate %d of %d\n", fi.File, i+1, len(fi.Certificates))
		c.writeText(&b)
	}
	if k := fi.Key; k != nil {
		state := "unencrypted"
		if k.Encrypted {
			state = "encrypted"
		}
		kt := k.KeyType
		if kt == "" {
			kt = "type unknown without the passphrase"
		}
		fmt.Fprintf(&b, "%s: private key, %s (%s)\n", fi.File, kt, state)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c CertInfo) writeText(b *strings.Builder) {
	row := func(k, v string) { fmt.Fprintf(b, "  %-12s %s\n", k+":", v) }
	row("Subject", c.Subject)
	row("Issuer", c.Issuer)
	row("Serial", c.Serial)
	left := fmt.Sprintf("%d days left", c.DaysLeft)
	if c.DaysLeft < 0 {
		left = fmt.Sprintf("EXPIRED %d days ago", -c.DaysLeft)
	}
	row("Valid", fmt.Sprintf("%s UTC to %s UTC (%s)", c.NotBefore.Format(time.DateTime), c.NotAfter.Format(time.DateTime), left))
	row("Key", c.KeyType)
	row("Signature", c.SignatureAlgorithm)
	row("SHA-256", c.SHA256)
	ca := "no (basicConstraints CA:FALSE)"
	switch {
	case c.IsCA:
		ca = "yes (basicConstraints CA:TRUE)"
	case !c.BasicConstraints:
		ca = "not stated (no basicConstraints extension)"
	}
	if c.SelfSigned {
		ca += ", self-signed"
	}
	row("CA", ca)
	if len(c.DNSNames) > 0 {
		row("DNS names", strings.Join(c.DNSNames, ", "))
	}
	if len(c.ExtKeyUsage) > 0 {
		row("Usage", strings.Join(c.ExtKeyUsage, ", "))
	}
}
