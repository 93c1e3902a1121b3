package pki_test

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// TestPKIOpenSSLAcceptsGenerated: what we write is what the docs' openssl
// recipe would have made, as far as openssl itself can tell.
func TestPKIOpenSSLAcceptsGenerated(t *testing.T) {
	t.Parallel()
	for _, kt := range []pki.KeyType{pki.ECDSAP256, pki.ECDSAP384, pki.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			pkitest.OpenSSL(t)
			dir := filepath.Join(t.TempDir(), "aop")
			set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", Hostnames: []string{"app.example.com"}, KeyType: kt})
			if err != nil {
				t.Fatal(err)
			}
			// Encryption does not depend on the key type; one subtest (PBKDF2
			// is slow under -race) proves openssl reads it.
			encrypt := kt == pki.ECDSAP256
			opts := pki.WriteOptions{Unencrypted: true}
			if encrypt {
				opts = pki.WriteOptions{Passphrase: []byte("correct horse")}
			}
			if _, err := pki.WriteFiles(dir, set, opts); err != nil {
				t.Fatal(err)
			}
			passFile := filepath.Join(t.TempDir(), "pass")
			if err := os.WriteFile(passFile, []byte("correct horse\n"), 0o600); err != nil {
				t.Fatal(err)
			}

			out := pkitest.RunOpenSSL(t, dir, "verify", "-purpose", "sslclient", "-CAfile", "rootca.crt", "cert.crt")
			if !strings.Contains(out, "cert.crt: OK") {
				t.Fatalf("openssl verify: %s", out)
			}
			if encrypt {
				pkitest.RunOpenSSL(t, dir, "pkey", "-in", "rootca.key", "-passin", "file:"+passFile, "-noout")
				if err := pkitest.OpenSSLCmd(t, dir, "pkey", "-in", "rootca.key", "-passin", "pass:wrong", "-noout").Run(); err == nil {
					t.Fatal("openssl decrypted rootca.key with a wrong passphrase: it is not encrypted")
				}
			}
			// cert.key must load without any passphrase: Cloudflare needs it so.
			pkitest.RunOpenSSL(t, dir, "pkey", "-in", "cert.key", "-passin", "pass:", "-noout")

			leaf := pkitest.RunOpenSSL(t, dir, "x509", "-in", "cert.crt", "-noout", "-text")
			for _, want := range []string{"X509v3 Basic Constraints: critical\n                CA:FALSE", "TLS Web Client Authentication", "DNS:app.example.com", "Subject: CN = app.example.com", "X509v3 Authority Key Identifier", "X509v3 Subject Key Identifier"} {
				if !strings.Contains(leaf, want) {
					t.Errorf("leaf lacks %q:\n%s", want, leaf)
				}
			}
			ca := pkitest.RunOpenSSL(t, dir, "x509", "-in", "rootca.crt", "-noout", "-text")
			for _, want := range []string{"CA:TRUE, pathlen:0", "Certificate Sign, CRL Sign", "X509v3 Subject Key Identifier", "Subject: OU = Authenticated Origin Pulls CA, CN = example.com"} {
				if !strings.Contains(ca, want) {
					t.Errorf("CA lacks %q:\n%s", want, ca)
				}
			}
			wantSig := map[pki.KeyType]string{pki.ECDSAP256: "ecdsa-with-SHA256", pki.ECDSAP384: "ecdsa-with-SHA384", pki.RSA2048: "sha256WithRSAEncryption"}[kt]
			if !strings.Contains(leaf, "Signature Algorithm: "+wantSig) || !strings.Contains(ca, "Signature Algorithm: "+wantSig) {
				t.Errorf("signatures are not %s", wantSig)
			}
		})
	}
}

// TestPKIOpenSSLVerifiesEveryNameShape: the zone-level default (client CN =
// the domain) and an apex hostname give the client certificate the CA's
// common name. OpenSSL, which nginx, Apache and HAProxy verify with, takes
// a certificate whose subject equals its issuer for self-signed and
// rejects it (error 18), so the two subjects must differ.
func TestPKIOpenSSLVerifiesEveryNameShape(t *testing.T) {
	t.Parallel()
	for name, hosts := range map[string][]string{"zone default": nil, "apex hostname": {"example.com"}, "subdomain": {"app.example.com"}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pkitest.OpenSSL(t)
			dir := filepath.Join(t.TempDir(), "aop")
			set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", Hostnames: hosts, KeyType: pki.ECDSAP256})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pki.WriteFiles(dir, set, pki.WriteOptions{Unencrypted: true}); err != nil {
				t.Fatal(err)
			}
			cmd := pkitest.OpenSSLCmd(t, dir, "verify", "-purpose", "sslclient", "-CAfile", "rootca.crt", "cert.crt")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "cert.crt: OK") {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}
		})
	}
}

// docsRecipe runs the Cloudflare docs' five openssl commands in dir (RSA-2048
// instead of 4096 for speed, -subj instead of prompts) and returns the
// check input for the result. ext is the content of cert.v3.ext, or "" to
// leave -extfile out as many operators do. leafCN is what the operator types
// as the client certificate's common name.
func docsRecipe(t *testing.T, ext, leafCN string) (pki.CheckInput, string) {
	t.Helper()
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("recipe-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pkitest.RunOpenSSL(t, dir, "genrsa", "-aes256", "-passout", "file:"+pass, "-out", "rootca.key", "2048")
	pkitest.RunOpenSSL(t, dir, "req", "-x509", "-new", "-nodes", "-key", "rootca.key", "-passin", "file:"+pass,
		"-sha256", "-days", "1826", "-out", "rootca.crt", "-subj", "/CN=example.com")
	pkitest.RunOpenSSL(t, dir, "req", "-new", "-nodes", "-out", "cert.csr", "-newkey", "rsa:2048", "-keyout", "cert.key",
		"-subj", "/CN="+leafCN)
	args := []string{"x509", "-req", "-in", "cert.csr", "-CA", "rootca.crt", "-CAkey", "rootca.key", "-passin", "file:" + pass,
		"-CAcreateserial", "-out", "cert.crt", "-days", "730", "-sha256"}
	if ext != "" {
		if err := os.WriteFile(filepath.Join(dir, "cert.v3.ext"), []byte(ext+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-extfile", "./cert.v3.ext")
	}
	pkitest.RunOpenSSL(t, dir, args...)
	return readInput(t, dir, "rootca.crt", "cert.crt", "cert.key"), dir
}

func readInput(t *testing.T, dir, ca, cert, key string) pki.CheckInput {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return pki.CheckInput{CA: read(ca), Cert: read(cert), Key: read(key), CAName: ca, CertName: cert, KeyName: key}
}

func TestPKICheckDocsRecipe(t *testing.T) {
	t.Parallel()
	pkitest.OpenSSL(t)
	cases := []struct {
		name, ext string
		code      string // the one problem expected, "" for none
	}{
		{"with cert.v3.ext", "basicConstraints=CA:FALSE", ""},
		{"without cert.v3.ext", "", "leaf-no-basic-constraints"},
		{"with CA:TRUE", "basicConstraints=CA:TRUE", "leaf-is-ca"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in, _ := docsRecipe(t, c.ext, "app.example.com")
			in.Hostnames = []string{"app.example.com"}
			r := pki.Check(in)
			if c.code == "" {
				if !r.OK() || len(r.Warnings) > 0 {
					t.Fatalf("docs recipe rejected: %+v", r)
				}
				return
			}
			if len(r.Problems) != 1 || r.Problems[0].Code != c.code {
				t.Fatalf("problems %+v, want only %s", r.Problems, c.code)
			}
			p := r.Problems[0]
			if !strings.Contains(p.Message, `"missing leaf certificate"`) || !strings.Contains(p.Remedy, "-extfile cert.v3.ext") || !strings.Contains(p.Remedy, "basicConstraints=CA:FALSE") {
				t.Fatalf("problem does not explain the fix: %+v", p)
			}
		})
	}
}

// A client certificate whose subject equals its CA's (the docs ask for the
// hostname as its CN, but zone-level users often type the domain twice) is
// rejected by OpenSSL as self-signed unless key identifiers tell the two
// apart. check must agree with OpenSSL, which nginx, Apache and HAProxy
// verify with, in each case.
func TestPKICheckSameSubjectAsCAAgreesWithOpenSSL(t *testing.T) {
	t.Parallel()
	pkitest.OpenSSL(t)
	writePair := func(t *testing.T, ca, leaf *pki.Pair) pki.CheckInput {
		t.Helper()
		dir := t.TempDir()
		for name, b := range map[string][]byte{"rootca.crt": ca.CertPEM(), "cert.crt": leaf.CertPEM(), "cert.key": keyPEM(t, leaf)} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return readInput(t, dir, "rootca.crt", "cert.crt", "cert.key")
	}
	must := mustPair(t)
	ca := must(pki.NewCA(pki.CAOptions{CommonName: "example.com", KeyType: pki.ECDSAP256}))
	key := must(pki.IssueClient(ca, pki.ClientOptions{CommonName: "x.example.com", KeyType: pki.ECDSAP256})).Key
	cases := []struct {
		name      string
		input     func(t *testing.T) pki.CheckInput
		opensslOK bool
	}{
		{"docs recipe, domain as both CNs", func(t *testing.T) pki.CheckInput {
			in, _ := docsRecipe(t, "basicConstraints=CA:FALSE", "example.com")
			return in
		}, true},
		{"CA's subject and no subject key identifier", func(t *testing.T) pki.CheckInput {
			return writePair(t, ca, customLeaf(t, ca, key, func(c *x509.Certificate) { c.Subject = ca.Cert.Subject }))
		}, false},
		{"aopwizard's client certificate with the CA's common name", func(t *testing.T) pki.CheckInput {
			return writePair(t, ca, must(pki.IssueClient(ca, pki.ClientOptions{CommonName: "example.com", KeyType: pki.ECDSAP256})))
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.input(t)
			dir := t.TempDir()
			for name, b := range map[string][]byte{"ca.crt": in.CA, "cert.crt": in.Cert} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, err := pkitest.OpenSSLCmd(t, dir, "verify", "-purpose", "sslclient", "-CAfile", "ca.crt", "cert.crt").CombinedOutput()
			if (err == nil) != c.opensslOK {
				t.Fatalf("openssl verify: %v\n%s(the case's premise is wrong)", err, out)
			}
			flagged := slices.ContainsFunc(pki.Check(in).Problems, func(p pki.Finding) bool { return p.Code == "cert-subject-is-issuer" })
			if flagged == c.opensslOK {
				t.Fatalf("check flagged cert-subject-is-issuer = %v, but openssl verify accepted = %v", flagged, c.opensslOK)
			}
		})
	}
}

// TestPKIParseOpenSSLKeys reads the key encodings openssl writes, including
// the legacy encrypted PEM and DER, and rejects DSA with a reason.
func TestPKIParseOpenSSLKeys(t *testing.T) {
	t.Parallel()
	pkitest.OpenSSL(t)
	dir := t.TempDir()
	pkitest.RunOpenSSL(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec-params.key")
	pkitest.RunOpenSSL(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.key")
	pkitest.RunOpenSSL(t, dir, "pkey", "-in", "p384.key", "-outform", "DER", "-out", "p384.der")
	pkitest.RunOpenSSL(t, dir, "pkey", "-in", "p384.key", "-traditional", "-aes256", "-passout", "pass:s3cret", "-out", "legacy-enc.key")
	pkitest.RunOpenSSL(t, dir, "pkcs8", "-topk8", "-in", "p384.key", "-outform", "DER", "-v2", "aes256", "-passout", "pass:s3cret", "-out", "enc.der")
	pkitest.RunOpenSSL(t, dir, "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", "dsa.params")
	pkitest.RunOpenSSL(t, dir, "genpkey", "-paramfile", "dsa.params", "-out", "dsa.key")
	pkitest.RunOpenSSL(t, dir, "genpkey", "-algorithm", "ED448", "-out", "ed448.key")
	pkitest.RunOpenSSL(t, dir, "req", "-x509", "-new", "-key", "dsa.key", "-subj", "/CN=app.example.com", "-days", "30", "-out", "dsa.crt")
	in := readInput(t, dir, "dsa.crt", "dsa.crt", "dsa.key")
	if r := pki.Check(in); !slices.Contains(codes(r.Problems), "cert-key-unsupported") || !strings.Contains(findingsText(r), "DSA 1024 keys are not accepted") {
		t.Errorf("DSA certificate: %+v", r.Problems)
	}

	cases := []struct {
		file, pass, want, err string
	}{
		{"ec-params.key", "", "ECDSA P-256", ""},
		{"p384.der", "", "ECDSA P-384", ""},
		{"legacy-enc.key", "s3cret", "ECDSA P-384", ""},
		{"legacy-enc.key", "", "", "encrypted"},
		{"legacy-enc.key", "nope", "", "wrong passphrase"},
		{"enc.der", "s3cret", "ECDSA P-384", ""},
		{"enc.der", "", "", "encrypted"},
		{"dsa.key", "", "", "DSA keys are not accepted"},
		{"ed448.key", "", "", "Ed448 keys are not accepted"},
	}
	for _, c := range cases {
		data, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		key, err := pki.ParsePrivateKey(data, []byte(c.pass))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s (pass %q): error %v, want one saying %q", c.file, c.pass, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got := pki.DescribeKey(key.Public()); got != c.want {
			t.Errorf("%s: key %s, want %s", c.file, got, c.want)
		}
	}
}

// TestPKIOpenSSLLongNames: a set for a 253-character hostname and a long
// domain is one OpenSSL reads and verifies, with every common name within
// RFC 5280's 64 characters and the long names in the DNS names.
func TestPKIOpenSSLLongNames(t *testing.T) {
	t.Parallel()
	pkitest.OpenSSL(t)
	domain := strings.Repeat("d", 63) + ".example.com"
	long := longName(domain)
	set, err := pki.NewSet(pki.SetOptions{Domain: domain, Hostnames: []string{long}, KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := pki.WriteFiles(dir, set, pki.WriteOptions{Unencrypted: true}); err != nil {
		t.Fatal(err)
	}
	if out := pkitest.RunOpenSSL(t, dir, "verify", "-purpose", "sslclient", "-CAfile", "rootca.crt", "cert.crt"); !strings.Contains(out, "cert.crt: OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	leaf := pkitest.RunOpenSSL(t, dir, "x509", "-in", "cert.crt", "-noout", "-text")
	if !strings.Contains(leaf, "DNS:"+long) || !strings.Contains(leaf, "Subject: CN = "+pki.FallbackClientCommonName) {
		t.Errorf("leaf lacks the long DNS name or the fallback CN:\n%s", leaf)
	}
	// OpenSSL itself refuses a longer common name: the bound is real.
	if out, err := pkitest.OpenSSLCmd(t, dir, "req", "-new", "-key", "cert.key", "-subj", "/CN="+long, "-out", "long.csr").CombinedOutput(); err == nil {
		t.Errorf("openssl made a CSR with a 253-character CN; the 64-character bound is not what OpenSSL enforces:\n%s", out)
	}
}

// Defect: inspect said "not a certificate: the file holds a private key"
// for a key encrypted with 3M PBKDF2 iterations, and check advised passing
// another key. Both now give the real reason and how to re-encrypt it.
func TestPKIManyPBKDF2Iterations(t *testing.T) {
	t.Parallel()
	pkitest.OpenSSL(t)
	dir := t.TempDir()
	set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.WriteFiles(dir, set, pki.WriteOptions{Unencrypted: true}); err != nil {
		t.Fatal(err)
	}
	pkitest.RunOpenSSL(t, dir, "pkcs8", "-topk8", "-in", "cert.key", "-v2", "aes256", "-iter", "3000000", "-passout", "pass:s3cret", "-out", "slow.key")
	data, err := os.ReadFile(filepath.Join(dir, "slow.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = pki.Inspect("slow.key", data, []byte("s3cret"), time.Now())
	if !errors.Is(err, pki.ErrUnsupportedEncryption) || errors.Is(err, pki.ErrNotCertificate) ||
		!strings.Contains(err.Error(), "3000000 PBKDF2 iterations") || !strings.Contains(err.Error(), "openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000") {
		t.Fatalf("inspect: %v", err)
	}
	// Without the passphrase it is just an encrypted key.
	if fi, err := pki.Inspect("slow.key", data, nil, time.Now()); err != nil || !fi.Key.Encrypted {
		t.Fatalf("inspect without passphrase: %+v, %v", fi, err)
	}

	in := readInput(t, dir, "rootca.crt", "cert.crt", "slow.key")
	in.Passphrase = []byte("s3cret")
	r := pki.Check(in)
	got := codes(r.Problems)
	if !slices.Contains(got, "key-encryption-unsupported") || slices.Contains(got, "key-unreadable") ||
		!strings.Contains(findingsText(r), "3000000 PBKDF2 iterations") || !strings.Contains(findingsText(r), "-iter 600000") {
		t.Fatalf("check: %s", findingsText(r))
	}
	// What the remedy says works: the re-encrypted key loads.
	pkitest.RunOpenSSL(t, dir, "pkcs8", "-topk8", "-in", "cert.key", "-v2", "aes-256-cbc", "-iter", "600000", "-passout", "pass:s3cret", "-out", "fixed.key")
	if fixed, err := os.ReadFile(filepath.Join(dir, "fixed.key")); err != nil {
		t.Fatal(err)
	} else if k, err := pki.ParsePrivateKey(fixed, []byte("s3cret")); err != nil || !pki.KeyMatches(set.Client.Cert, k) {
		t.Fatalf("key re-encrypted as the remedy says: %v", err)
	}
}
