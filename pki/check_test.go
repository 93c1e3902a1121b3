package pki_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

func keyPEM(t testing.TB, p *pki.Pair) []byte {
	t.Helper()
	b, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// customLeaf signs a client certificate from ca with a template the
// generator would never make (CA:TRUE, weak keys, wrong usage).
func customLeaf(t testing.TB, ca *pki.Pair, key crypto.Signer, edit func(*x509.Certificate)) *pki.Pair {
	t.Helper()
	serial, err := pki.NewSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "app.example.com"}, DNSNames: []string{"app.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Pair{Cert: cert, Key: key}
}

func mustPair(t testing.TB) func(*pki.Pair, error) *pki.Pair {
	return func(p *pki.Pair, err error) *pki.Pair {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// fixture is like pkitest.Lab, but its certificates are far from expiry so
// checks report no expiry warnings.
type fixture struct {
	CAA, CAB, ClientA, ClientB, ClientAExpired *pki.Pair
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	must := mustPair(t)
	kt := pki.ECDSAP256
	f := &fixture{
		CAA: must(pki.NewCA(pki.CAOptions{CommonName: "example.com", KeyType: kt, Days: 365})),
		CAB: must(pki.NewCA(pki.CAOptions{CommonName: "example.com", KeyType: kt, Days: 365})),
	}
	f.ClientA = must(pki.IssueClient(f.CAA, pki.ClientOptions{CommonName: "client-A", KeyType: kt, Days: 200}))
	f.ClientB = must(pki.IssueClient(f.CAB, pki.ClientOptions{CommonName: "client-B", KeyType: kt, Days: 200}))
	f.ClientAExpired = must(pki.IssueClient(f.CAA, pki.ClientOptions{CommonName: "client-A", KeyType: kt,
		NotBefore: f.CAA.Cert.NotBefore, NotAfter: time.Now().Add(-time.Hour)}))
	return f
}

const sharedPass = "leaf-pass"

// encFixture is newFixture plus ClientA's key encrypted with sharedPass.
func encFixture(t testing.TB) (*fixture, []byte) {
	t.Helper()
	f := newFixture(t)
	return f, pkitest.EncryptedKeyPEM(t, f.ClientA.Key, []byte(sharedPass))
}

func TestPKICheck(t *testing.T) {
	t.Parallel()
	lab, encKey := encFixture(t)
	must := mustPair(t)
	good := func() pki.CheckInput {
		return pki.CheckInput{
			CA: lab.CAA.CertPEM(), Cert: lab.ClientA.CertPEM(), Key: keyPEM(t, lab.ClientA),
			CAName: "rootca.crt", CertName: "cert.crt", KeyName: "cert.key",
		}
	}
	ecKey := func() crypto.Signer {
		k, err := pki.GenerateKey(pki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caLeaf := customLeaf(t, lab.CAA, ecKey(), func(c *x509.Certificate) { c.IsCA = true })
	serverOnly := customLeaf(t, lab.CAA, ecKey(), func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
	noSign := customLeaf(t, lab.CAA, ecKey(), func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak := customLeaf(t, lab.CAA, rsa1024, nil)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed := customLeaf(t, lab.CAA, edKey, nil)
	future := must(pki.IssueClient(lab.CAA, pki.ClientOptions{CommonName: "app.example.com", KeyType: pki.ECDSAP256,
		NotBefore: time.Now().Add(48 * time.Hour), NotAfter: time.Now().Add(96 * time.Hour)}))
	soon := must(pki.IssueClient(lab.CAA, pki.ClientOptions{CommonName: "app.example.com", KeyType: pki.ECDSAP256, Days: 10}))
	truncated := lab.ClientA.CertPEM()
	truncated = truncated[:len(truncated)/2]

	cases := []struct {
		name     string
		edit     func(*pki.CheckInput)
		problems []string // codes, in any order
		warnings []string
		says     string // a phrase one of the findings must contain
	}{
		{name: "fit for upload", edit: func(*pki.CheckInput) {}},
		{name: "leaf with CA:TRUE", edit: func(in *pki.CheckInput) { in.Cert, in.Key = caLeaf.CertPEM(), keyPEM(t, caLeaf) },
			problems: []string{"leaf-is-ca"}, says: `"missing leaf certificate"`},
		{name: "key does not match", edit: func(in *pki.CheckInput) { in.Key = keyPEM(t, lab.ClientB) },
			problems: []string{"key-mismatch"}, says: "does not belong to cert.crt"},
		{name: "CA key as client key", edit: func(in *pki.CheckInput) { in.Key = keyPEM(t, lab.CAA) },
			problems: []string{"key-is-ca-key"}, says: "the CA's private key"},
		{name: "encrypted CA key as client key", edit: func(in *pki.CheckInput) {
			in.Key, in.Passphrase = pkitest.EncryptedKeyPEM(t, lab.CAA.Key, []byte(sharedPass)), []byte(sharedPass)
		}, problems: []string{"key-is-ca-key"}, says: "never upload the CA key"},
		{name: "leaf from another CA", edit: func(in *pki.CheckInput) { in.Cert, in.Key = lab.ClientB.CertPEM(), keyPEM(t, lab.ClientB) },
			problems: []string{"cert-wrong-ca"}, says: "another CA with the same name"},
		{name: "expired", edit: func(in *pki.CheckInput) {
			in.Cert, in.Key = lab.ClientAExpired.CertPEM(), keyPEM(t, lab.ClientAExpired)
		}, problems: []string{"cert-expired"}, says: "expired on"},
		{name: "not yet valid", edit: func(in *pki.CheckInput) { in.Cert, in.Key = future.CertPEM(), keyPEM(t, future) },
			problems: []string{"cert-not-yet-valid"}, says: "not valid until"},
		{name: "encrypted key without passphrase", edit: func(in *pki.CheckInput) { in.Key = encKey },
			problems: []string{"key-encrypted"}, warnings: []string{"key-not-checked"}, says: "Cloudflare cannot use a password-protected key"},
		{name: "encrypted key with passphrase", edit: func(in *pki.CheckInput) { in.Key, in.Passphrase = encKey, []byte("leaf-pass") },
			problems: []string{"key-encrypted"}, says: "openssl pkey -in cert.key"},
		{name: "encrypted key of another cert", edit: func(in *pki.CheckInput) {
			in.Cert, in.Key, in.Passphrase = lab.ClientAExpired.CertPEM(), encKey, []byte("leaf-pass")
		}, problems: []string{"key-encrypted", "cert-expired", "key-mismatch"}},
		{name: "wrong passphrase", edit: func(in *pki.CheckInput) { in.Key, in.Passphrase = encKey, []byte("nope") },
			problems: []string{"key-encrypted", "wrong-passphrase"}, says: "the passphrase does not decrypt the private key"},
		{name: "garbage certificate", edit: func(in *pki.CheckInput) { in.Cert = []byte("hello, this is not a certificate") },
			problems: []string{"cert-unreadable"}, says: "neither a PEM certificate"},
		{name: "empty certificate", edit: func(in *pki.CheckInput) { in.Cert = []byte("\n") },
			problems: []string{"cert-unreadable"}, says: "file is empty"},
		{name: "truncated certificate", edit: func(in *pki.CheckInput) { in.Cert = truncated },
			problems: []string{"cert-unreadable"}, says: "truncated"},
		{name: "key where the certificate goes", edit: func(in *pki.CheckInput) { in.Cert = keyPEM(t, lab.ClientA) },
			problems: []string{"cert-unreadable"}, says: "holds a private key (PRIVATE KEY), not a certificate"},
		{name: "certificate where the key goes", edit: func(in *pki.CheckInput) { in.Key = lab.ClientA.CertPEM() },
			problems: []string{"key-unreadable"}, says: "holds a certificate, not a private key"},
		{name: "truncated key", edit: func(in *pki.CheckInput) { k := keyPEM(t, lab.ClientA); in.Key = k[:len(k)/2] },
			problems: []string{"key-unreadable"}, says: "truncated"},
		{name: "garbage key", edit: func(in *pki.CheckInput) { in.Key = []byte{0x30, 0x03, 0x02, 0x01, 0x01} },
			problems: []string{"key-unreadable"}, says: "neither a PEM private key"},
		{name: "client certificate as CA", edit: func(in *pki.CheckInput) { in.CA = lab.ClientB.CertPEM() },
			problems: []string{"ca-not-ca", "cert-wrong-ca"}, says: "is not a CA certificate"},
		{name: "RSA-1024", edit: func(in *pki.CheckInput) { in.Cert, in.Key = weak.CertPEM(), keyPEM(t, weak) },
			problems: []string{"cert-key-unsupported"}, says: "RSA 1024 is too weak"},
		{name: "Ed25519", edit: func(in *pki.CheckInput) { in.Cert, in.Key = ed.CertPEM(), keyPEM(t, ed) },
			problems: []string{"cert-key-unsupported"}, says: "Ed25519 keys are not accepted"},
		{name: "server-only usage", edit: func(in *pki.CheckInput) { in.Cert, in.Key = serverOnly.CertPEM(), keyPEM(t, serverOnly) },
			problems: []string{"cert-not-client-auth"}, says: "lacks clientAuth"},
		{name: "keyUsage without digitalSignature", edit: func(in *pki.CheckInput) { in.Cert, in.Key = noSign.CertPEM(), keyPEM(t, noSign) },
			problems: []string{"cert-key-usage"}, says: "without digitalSignature"},
		{name: "every problem at once", edit: func(in *pki.CheckInput) {
			in.CA, in.Cert, in.Key = lab.CAB.CertPEM(), caLeaf.CertPEM(), keyPEM(t, lab.ClientB)
		}, problems: []string{"leaf-is-ca", "cert-wrong-ca", "key-mismatch"}},
		{name: "expiring soon", edit: func(in *pki.CheckInput) { in.Cert, in.Key = soon.CertPEM(), keyPEM(t, soon) },
			warnings: []string{"cert-expiring"}, says: "expires in 9 days"},
		{name: "hostname not named", edit: func(in *pki.CheckInput) { in.Hostnames = []string{"client-A", "other.example.com"} },
			warnings: []string{"hostname-mismatch"}, says: "does not name other.example.com"},
		{name: "chain after the leaf", edit: func(in *pki.CheckInput) { in.Cert = append(lab.ClientA.CertPEM(), lab.CAA.CertPEM()...) },
			warnings: []string{"cert-has-chain"}, says: "holds 1 more certificate(s) after the client certificate"},
		{name: "DER certificate and key", edit: func(in *pki.CheckInput) {
			der, _ := x509.MarshalPKCS8PrivateKey(lab.ClientA.Key)
			in.Cert, in.Key = lab.ClientA.Cert.Raw, der
		}},
		{name: "combined cert and key files", edit: func(in *pki.CheckInput) {
			in.Key = append(lab.ClientA.CertPEM(), keyPEM(t, lab.ClientA)...)
			in.CA = append([]byte("# Our CA\n"), in.CA...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := good()
			c.edit(&in)
			r := pki.Check(in)
			if got := codes(r.Problems); !sameSet(got, c.problems) {
				t.Fatalf("problems %v, want %v\n%+v", got, c.problems, r.Problems)
			}
			if got := codes(r.Warnings); !sameSet(got, c.warnings) {
				t.Fatalf("warnings %v, want %v\n%+v", got, c.warnings, r.Warnings)
			}
			if r.OK() != (len(c.problems) == 0) {
				t.Fatalf("OK() = %v with problems %v", r.OK(), r.Problems)
			}
			for _, f := range append(r.Problems, r.Warnings...) {
				if f.Message == "" || strings.HasSuffix(f.Message, ".") {
					t.Errorf("finding %s: message %q is empty or ends with punctuation", f.Code, f.Message)
				}
			}
			if c.says != "" && !slices.ContainsFunc(append(r.Problems, r.Warnings...), func(f pki.Finding) bool {
				return strings.Contains(f.Message+" "+f.Remedy, c.says)
			}) {
				t.Fatalf("no finding says %q: %+v %+v", c.says, r.Problems, r.Warnings)
			}
			if lines := strings.Split(string(in.Key), "\n"); len(lines) > 2 && strings.Contains(findingsText(r), lines[1]) {
				t.Fatal("report repeats key material")
			}
		})
	}
}

func codes(fs []pki.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func findingsText(r *pki.Report) string {
	var b strings.Builder
	for _, f := range append(r.Problems, r.Warnings...) {
		b.WriteString(f.Message + f.Remedy)
	}
	return b.String()
}

func TestPKICheckExpiredCA(t *testing.T) {
	t.Parallel()
	must := mustPair(t)
	ca := must(pki.NewCA(pki.CAOptions{CommonName: "example.com", KeyType: pki.ECDSAP256, Days: 10}))
	leaf := must(pki.IssueClient(ca, pki.ClientOptions{CommonName: "app.example.com", KeyType: pki.ECDSAP256}))
	in := pki.CheckInput{CA: ca.CertPEM(), Cert: leaf.CertPEM(), Key: keyPEM(t, leaf), Now: time.Now().Add(20 * 24 * time.Hour)}
	r := pki.Check(in)
	if got := codes(r.Problems); !sameSet(got, []string{"ca-expired", "cert-expired"}) {
		t.Fatalf("problems %v, want the CA and the leaf expired (the leaf ends with the CA)", got)
	}
	if leaf.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Fatalf("leaf outlives its CA: %v > %v", leaf.Cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestPKINamesHostname(t *testing.T) {
	t.Parallel()
	lab, _ := encFixture(t)
	wild := customLeaf(t, lab.CAA, lab.ClientA.Key, func(c *x509.Certificate) { c.DNSNames = []string{"*.example.com"} })
	cnOnly := customLeaf(t, lab.CAA, lab.ClientA.Key, func(c *x509.Certificate) { c.DNSNames = nil })
	for _, c := range []struct {
		cert *x509.Certificate
		host string
		want bool
	}{
		{wild.Cert, "a.example.com", true},
		{wild.Cert, "A.Example.COM", true},
		{wild.Cert, "a.b.example.com", false},
		{wild.Cert, "example.com", false},
		{cnOnly.Cert, "app.example.com", true},
		{cnOnly.Cert, "other.example.com", false},
	} {
		if got := pki.NamesHostname(c.cert, c.host); got != c.want {
			t.Errorf("NamesHostname(%v, %s) = %v", c.cert.DNSNames, c.host, got)
		}
	}
}
