package cfca

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestEmbeddedCA(t *testing.T) {
	c := Cert()
	if c.Subject.CommonName != "origin-pull.cloudflare.net" || !c.IsCA {
		t.Fatalf("embedded CA is %q (IsCA %v), want the origin-pull.cloudflare.net CA", c.Subject, c.IsCA)
	}
	if !c.NotAfter.Equal(Expiry) {
		t.Fatalf("NotAfter %s, want %s", c.NotAfter, Expiry)
	}
	sum := sha256.Sum256(c.Raw)
	if got := strings.ToUpper(hex.EncodeToString(sum[:])); got != strings.ReplaceAll(Fingerprint, ":", "") {
		t.Fatalf("fingerprint %s, want %s", got, Fingerprint)
	}
}

// The PEM must be usable as a CA bundle on its own: exactly one block, no
// comment header, and the certificate must parse into a pool.
func TestPEMIsBareBlock(t *testing.T) {
	p := PEM()
	if !bytes.HasPrefix(p, []byte("-----BEGIN CERTIFICATE-----\n")) || !bytes.HasSuffix(p, []byte("-----END CERTIFICATE-----\n")) {
		t.Fatalf("PEM() is not a bare block:\n%s", p)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(p) {
		t.Fatal("PEM() does not load into a cert pool")
	}
	p[30] ^= 0xff // callers get a copy: mutating it must not corrupt the package state
	if bytes.Equal(p, PEM()) {
		t.Fatal("PEM() returned shared memory")
	}
}

func TestLoadRejectsWrongFingerprint(t *testing.T) {
	wrong := strings.Replace(Fingerprint, "9A", "9B", 1)
	if _, _, err := load(embedded, wrong); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("load with a wrong pin: err %v, want a fingerprint mismatch", err)
	}
	if _, _, err := load([]byte("# only a comment\n"), Fingerprint); err == nil {
		t.Fatal("load without a PEM block succeeded")
	}
	two := append(PEM(), PEM()...)
	if _, _, err := load(two, Fingerprint); err == nil {
		t.Fatal("load with two PEM blocks succeeded")
	}
	block, _ := pem.Decode(embedded)
	if block == nil {
		t.Fatal("no block in the embedded file")
	}
}

func TestExpiryWarning(t *testing.T) {
	cases := []struct {
		now  time.Time
		days int
		want string
	}{
		{time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), 90, ""},
		{time.Date(2029, 10, 1, 17, 0, 0, 0, time.UTC), 90, "expires on 2029-11-01 (in 31 days)"},
		{time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC), 90, "expired on 2029-11-01"},
	}
	for _, c := range cases {
		got := ExpiryWarning(c.now, c.days)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("ExpiryWarning(%s, %d) = %q, want it to contain %q", c.now, c.days, got, c.want)
		}
	}
}
