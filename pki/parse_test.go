package pki_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

func TestPKIParseBadInput(t *testing.T) {
	t.Parallel()
	f, _ := encFixture(t)
	key := keyPEM(t, f.ClientA)
	block := func(typ string) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: []byte{0x30, 0x00}}) }
	keyDER, err := x509.MarshalPKCS8PrivateKey(f.ClientA.Key)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		data   []byte
		asCert bool
		is     error
		says   string
	}{
		{"empty cert", nil, true, pki.ErrEmpty, "file is empty"},
		{"blank key", []byte(" \n\t"), false, pki.ErrEmpty, "file is empty"},
		{"garbage cert", []byte("not PEM at all"), true, pki.ErrNotCertificate, "neither a PEM certificate"},
		{"garbage key", []byte("not PEM at all"), false, pki.ErrNotPrivateKey, "neither a PEM private key"},
		{"truncated", []byte(strings.SplitAfter(string(f.ClientA.CertPEM()), "\n")[0] + "MIIB\n"), true, pki.ErrMalformed, "truncated"},
		{"truncated key", key[:len(key)/2], false, pki.ErrMalformed, "truncated"},
		{"bad base64", []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), true, pki.ErrMalformed, "truncated or damaged"},
		{"bad DER in PEM", block("CERTIFICATE"), true, pki.ErrMalformed, "cannot be parsed"},
		{"key as cert", key, true, pki.ErrNotCertificate, "holds a private key"},
		{"DER key as cert", keyDER, true, pki.ErrNotCertificate, "holds a DER private key"},
		{"CSR as cert", block("CERTIFICATE REQUEST"), true, pki.ErrNotCertificate, "certificate signing request"},
		{"public key as cert", block("PUBLIC KEY"), true, pki.ErrNotCertificate, "public key"},
		{"cert as key", f.ClientA.CertPEM(), false, pki.ErrNotPrivateKey, "holds a certificate, not a private key"},
		{"public key as key", block("PUBLIC KEY"), false, pki.ErrNotPrivateKey, "the private key is needed"},
		{"two keys", append(key, keyPEM(t, f.ClientB)...), false, pki.ErrMalformed, "more than one private key"},
		{"DSA key", block("DSA PRIVATE KEY"), false, pki.ErrUnsupportedKey, "DSA keys are not accepted"},
		{"OpenSSH key", block("OPENSSH PRIVATE KEY"), false, pki.ErrUnsupportedKey, "OpenSSH"},
		{"bad PKCS#8", block("PRIVATE KEY"), false, pki.ErrMalformed, "cannot be parsed"},
		{"bad encrypted PKCS#8", block("ENCRYPTED PRIVATE KEY"), false, pki.ErrEncryptedKey, "encrypted"},
	}
	for _, c := range cases {
		var err error
		if c.asCert {
			_, err = pki.ParseCertificates(c.data)
		} else {
			_, err = pki.ParsePrivateKey(c.data, nil)
		}
		if err == nil || !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %v, want %v saying %q", c.name, err, c.is, c.says)
		}
	}
	// A damaged encrypted key gets a clear error once there is a passphrase.
	if _, err := pki.ParsePrivateKey(block("ENCRYPTED PRIVATE KEY"), []byte("x")); !errors.Is(err, pki.ErrMalformed) {
		t.Errorf("damaged encrypted key: %v", err)
	}
}

func TestPKIParseGood(t *testing.T) {
	t.Parallel()
	f, enc := encFixture(t)
	bundle := append([]byte("# comment header, as in Cloudflare's CA file\n"), f.ClientA.CertPEM()...)
	bundle = append(bundle, f.CAA.CertPEM()...)
	certs, err := pki.ParseCertificates(bundle)
	if err != nil || len(certs) != 2 || !certs[0].Equal(f.ClientA.Cert) {
		t.Fatalf("bundle: %d certificates, %v", len(certs), err)
	}
	if certs, err := pki.ParseCertificates(f.CAA.Cert.Raw); err != nil || !certs[0].Equal(f.CAA.Cert) {
		t.Fatalf("DER certificate: %v", err)
	}
	if !pki.KeyIsEncrypted(enc) || pki.KeyIsEncrypted(keyPEM(t, f.ClientA)) {
		t.Fatal("KeyIsEncrypted cannot tell encrypted from plain keys")
	}
	if _, err := pki.ParsePrivateKey(enc, nil); !errors.Is(err, pki.ErrEncryptedKey) {
		t.Fatalf("encrypted key without passphrase: %v", err)
	}
	if _, err := pki.ParsePrivateKey(enc, []byte("wrong")); !errors.Is(err, pki.ErrWrongPassphrase) {
		t.Fatalf("encrypted key with a wrong passphrase: %v", err)
	}
	k, err := pki.ParsePrivateKey(enc, []byte(sharedPass))
	if err != nil || !pki.KeyMatches(f.ClientA.Cert, k) {
		t.Fatalf("encrypted key with its passphrase: %v", err)
	}
}

func TestPKIInspect(t *testing.T) {
	t.Parallel()
	f, enc := encFixture(t)
	now := time.Now()
	data := append(f.ClientA.CertPEM(), keyPEM(t, f.ClientA)...)
	fi, err := pki.Inspect("combined.pem", data, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(fi.Certificates) != 1 || fi.Key == nil || fi.Key.KeyType != "ECDSA P-256" || fi.Key.Encrypted {
		t.Fatalf("inspect: %+v", fi)
	}
	c := fi.Certificates[0]
	if c.Subject != "CN=client-A" || c.Issuer != "CN=example.com" || c.IsCA || !c.BasicConstraints || c.SelfSigned ||
		c.DaysLeft != 199 || c.KeyType != "ECDSA P-256" || c.SHA256 != pki.Fingerprint(f.ClientA.Cert) ||
		len(c.SHA256) != 95 || c.Serial != strings.ToUpper(f.ClientA.Cert.SerialNumber.Text(16)) {
		t.Fatalf("certificate info: %+v", c)
	}
	ca, err := pki.Inspect("ca.pem", f.CAA.CertPEM(), nil, now)
	if err != nil || !ca.Certificates[0].IsCA || !ca.Certificates[0].SelfSigned {
		t.Fatalf("CA info: %+v, %v", ca, err)
	}
	var text strings.Builder
	if err := fi.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CN=client-A", "199 days left", "CA:FALSE", "private key, ECDSA P-256 (unencrypted)", c.SHA256} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), strings.Split(string(keyPEM(t, f.ClientA)), "\n")[1]) {
		t.Fatal("inspect printed key material")
	}
	if fi, err := pki.Inspect("enc.key", enc, nil, now); err != nil || !fi.Key.Encrypted || fi.Key.KeyType != "" {
		t.Fatalf("encrypted key: %+v, %v", fi, err)
	}
	if _, err := pki.Inspect("junk", []byte("junk"), nil, now); err == nil || !strings.Contains(err.Error(), "neither a certificate nor a private key") {
		t.Fatalf("junk: %v", err)
	}
}
