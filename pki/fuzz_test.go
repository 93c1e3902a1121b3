package pki_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// importErrors are the sentinels every import error must wrap, so callers
// can always tell what kind of bad input they got.
var importErrors = []error{pki.ErrEmpty, pki.ErrNotCertificate, pki.ErrNotPrivateKey, pki.ErrEncryptedKey,
	pki.ErrWrongPassphrase, pki.ErrUnsupportedKey, pki.ErrUnsupportedEncryption, pki.ErrMalformed}

func wrapsSentinel(err error) bool {
	for _, s := range importErrors {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzParse feeds arbitrary bytes to the import path (certificates, keys
// with and without a passphrase, inspect): it must never panic or hang, and
// must fail only with the documented sentinels.
func FuzzParse(f *testing.F) {
	set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256})
	if err != nil {
		f.Fatal(err)
	}
	key, err := set.Client.KeyPEM()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(set.Client.CertPEM())
	f.Add(key)
	f.Add(append(set.Client.CertPEM(), set.CA.CertPEM()...))
	f.Add(set.CA.Cert.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Add([]byte{})
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := pki.ParseCertificates(data)
		if err == nil && (len(certs) == 0 || certs[0] == nil) {
			t.Fatal("ParseCertificates succeeded without a certificate")
		}
		if err != nil && !wrapsSentinel(err) {
			t.Fatalf("ParseCertificates error without a sentinel: %v", err)
		}
		for _, pass := range [][]byte{nil, []byte("pw")} {
			k, err := pki.ParsePrivateKey(data, pass)
			if err == nil && k == nil {
				t.Fatal("ParsePrivateKey succeeded without a key")
			}
			if err != nil && !wrapsSentinel(err) {
				t.Fatalf("ParsePrivateKey error without a sentinel: %v", err)
			}
		}
		fi, err := pki.Inspect("fuzz", data, []byte("pw"), now)
		if err == nil && len(fi.Certificates) == 0 && fi.Key == nil {
			t.Fatal("Inspect succeeded with nothing found")
		}
		_ = pki.Check(pki.CheckInput{CA: data, Cert: data, Key: data, Now: now})
	})
}
