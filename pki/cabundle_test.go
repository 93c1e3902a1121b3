package pki

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The leaf given as a CA bundle is the outage of issue 7 (defect 2): the
// enforce phase then rejects the right client certificate.
func TestCheckCABundle(t *testing.T) {
	ca := mustPair(t)(NewCA(CAOptions{CommonName: "Bundle CA", KeyType: ECDSAP256, Days: 365}))
	other := mustPair(t)(NewCA(CAOptions{CommonName: "Other CA", KeyType: ECDSAP256, Days: 365}))
	leaf := mustPair(t)(IssueClient(ca, ClientOptions{CommonName: "client", KeyType: ECDSAP256, Days: 300}))
	key, err := leaf.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cases := []struct {
		name     string
		bundle   []byte
		client   *Pair
		now      time.Time
		wantErr  error
		wantText string
		warn     bool
	}{
		{"ca", ca.CertPEM(), nil, now, nil, "", false},
		{"ca and client", ca.CertPEM(), leaf, now, nil, "", false},
		{"rotation bundle", append(other.CertPEM(), ca.CertPEM()...), leaf, now, nil, "", false},
		{"leaf as bundle", leaf.CertPEM(), nil, now, ErrCABundle, "not a CA", false},
		{"leaf among CAs", append(ca.CertPEM(), leaf.CertPEM()...), nil, now, ErrCABundle, "certificate 2", false},
		{"key in bundle", append(ca.CertPEM(), key...), nil, now, ErrCABundle, "only certificates", false},
		{"DER", ca.Cert.Raw, nil, now, ErrCABundle, "PEM", false},
		{"empty", nil, nil, now, ErrCABundle, "empty", false},
		{"wrong CA for client", other.CertPEM(), leaf, now, ErrClientNotTrusted, "issued by CN=Bundle CA", false},
		{"expired CA", ca.CertPEM(), nil, now.Add(400 * 24 * time.Hour), ErrCABundle, "expired on", false},
		{"not yet valid", ca.CertPEM(), nil, now.Add(-48 * time.Hour), ErrCABundle, "clock", false},
		{"expires soon", ca.CertPEM(), nil, now.Add(350 * 24 * time.Hour), nil, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var client = leaf.Cert
			if c.client == nil {
				client = nil
			}
			warns, err := CheckCABundle(c.bundle, client, c.now)
			if c.wantErr == nil && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if c.wantErr != nil && (!errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.wantText)) {
				t.Fatalf("error %v, want %v naming %q", err, c.wantErr, c.wantText)
			}
			if got := len(warns) > 0; got != c.warn {
				t.Errorf("warnings %q, want some: %t", warns, c.warn)
			}
		})
	}
}

func TestReadCABundleRefusesNonRegularAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := ReadCABundle(dir); err == nil || !strings.Contains(err.Error(), "not a regular file (it is a directory)") {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, MaxCABundleSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadCABundle(big); err == nil || !strings.Contains(err.Error(), "holds more than 1 MiB") {
		t.Errorf("huge file: %v", err)
	}
	ca := mustPair(t)(NewCA(CAOptions{CommonName: "Pool CA", KeyType: ECDSAP256}))
	p := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if pool, err := LoadCAPool(p); err != nil || !pool.Equal(CAPool([]*x509.Certificate{ca.Cert})) {
		t.Errorf("LoadCAPool: %v", err)
	}
}

func mustPair(t *testing.T) func(*Pair, error) *Pair {
	return func(p *Pair, err error) *Pair {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

func TestReadClientChain(t *testing.T) {
	ca := mustPair(t)(NewCA(CAOptions{CommonName: "Chain CA", KeyType: ECDSAP256}))
	leaf := mustPair(t)(IssueClient(ca, ClientOptions{CommonName: "client", KeyType: ECDSAP256}))
	p := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(p, append(leaf.CertPEM(), ca.CertPEM()...), 0o644); err != nil {
		t.Fatal(err)
	}
	certs, err := ReadClientChain(p)
	if err != nil || len(certs) != 2 || !certs[0].Equal(leaf.Cert) {
		t.Errorf("ReadClientChain: %d certificates, %v", len(certs), err)
	}
	if _, err := ReadClientChain(filepath.Dir(p)); err == nil {
		t.Error("ReadClientChain read a directory")
	}
}
