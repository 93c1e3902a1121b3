package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

const testPassphrase = "tr0ub4dor-and-3"

type cliResult struct {
	code        int
	out, errOut string
}

func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

func (r cliResult) expect(t *testing.T, code int, says ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.out, r.errOut)
	}
	for _, s := range says {
		if !strings.Contains(r.out+r.errOut, s) {
			t.Fatalf("output does not say %q\nstdout: %s\nstderr: %s", s, r.out, r.errOut)
		}
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertNoSecrets fails when output repeats the passphrase or any line of
// the base64 body of the key files in dir.
func assertNoSecrets(t *testing.T, r cliResult, dir string) {
	t.Helper()
	all := r.out + r.errOut
	if strings.Contains(all, testPassphrase) {
		t.Fatal("output contains the passphrase")
	}
	for _, name := range []string{pki.CAKeyFile, pki.ClientKeyFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if len(line) > 16 && !strings.HasPrefix(line, "-----") && strings.Contains(all, line) {
				t.Fatalf("output contains key material from %s", name)
			}
		}
	}
}

func TestPKIGenerateCLI(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	pass := writeFile(t, tmp, "pass", []byte(testPassphrase+"\n"))
	dir := filepath.Join(tmp, "aop")
	r := runCLI(t, "pki", "generate", "--dir", dir, "--domain", "Example.com", "--hostname", "app.example.com",
		"--hostname", "api.example.com", "--key-type", "ecdsa-p256", "--passphrase-file", pass)
	r.expect(t, exitOK, "rootca.key", "encrypted (PKCS#8, AES-256)", "cert.crt", "CN=app.example.com", "DNS app.example.com api.example.com", "SHA-256 ", "expires ")
	assertNoSecrets(t, r, dir)

	set, err := pki.LoadFiles(dir, []byte(testPassphrase))
	if err != nil {
		t.Fatalf("load what generate wrote: %v", err)
	}
	if set.CA.Cert.Subject.CommonName != "example.com" || pki.DescribeKey(set.CA.Key.Public()) != "ECDSA P-256" {
		t.Fatalf("CA: %s, %s", set.CA.Cert.Subject, pki.DescribeKey(set.CA.Key.Public()))
	}
	if !strings.Contains(r.out, pki.Fingerprint(set.Client.Cert)) {
		t.Fatal("output lacks the client certificate's fingerprint")
	}

	// What generate writes, check accepts.
	c := runCLI(t, "pki", "check", "--ca", filepath.Join(dir, "rootca.crt"), "--cert", filepath.Join(dir, "cert.crt"),
		"--key", filepath.Join(dir, "cert.key"), "--hostname", "api.example.com")
	c.expect(t, exitOK, "fit for AOP upload")
	assertNoSecrets(t, c, dir)

	// A second run refuses to replace the set, then replaces it with --force.
	before, _ := os.ReadFile(filepath.Join(dir, pki.CAKeyFile))
	again := []string{"pki", "generate", "--dir", dir, "--domain", "example.com", "--key-type", "ecdsa-p256", "--no-passphrase"}
	runCLI(t, again...).expect(t, exitUsage, "files already exist", "rootca.key", "cert.crt", "--force")
	if after, _ := os.ReadFile(filepath.Join(dir, pki.CAKeyFile)); !bytes.Equal(before, after) {
		t.Fatal("refused run changed the files")
	}
	runCLI(t, append(again, "--force")...).expect(t, exitOK)
	if after, _ := os.ReadFile(filepath.Join(dir, pki.CAKeyFile)); bytes.Equal(before, after) {
		t.Fatal("--force did not replace the files")
	}
}

func TestPKIGenerateCLIEnvPassphrase(t *testing.T) {
	t.Setenv(envCAPassphrase, testPassphrase)
	dir := filepath.Join(t.TempDir(), "aop")
	r := runCLI(t, "pki", "generate", "--dir", dir, "--domain", "example.com", "--key-type", "ecdsa-p256")
	r.expect(t, exitOK, "CN=example.com, DNS example.com")
	assertNoSecrets(t, r, dir)
	if _, err := pki.LoadFiles(dir, []byte(testPassphrase)); err != nil {
		t.Fatalf("rootca.key is not encrypted with the environment's passphrase: %v", err)
	}
	runCLI(t, "pki", "generate", "--dir", t.TempDir(), "--domain", "example.com", "--no-passphrase").
		expect(t, exitUsage, "--no-passphrase conflicts")
}

func TestPKIGenerateCLINoPassphrase(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "aop")
	r := runCLI(t, "pki", "generate", "--dir", dir, "--domain", "example.com", "--hostname", "other.org", "--key-type", "ecdsa-p384", "--no-passphrase", "--ca-days", "30")
	r.expect(t, exitOK, "NOT encrypted", "other.org is not within example.com", "expires with the CA")
	set, err := pki.LoadFiles(dir, nil)
	if err != nil {
		t.Fatalf("rootca.key should load without a passphrase: %v", err)
	}
	if set.Client.Cert.NotAfter.After(set.CA.Cert.NotAfter) {
		t.Fatal("client certificate outlives the CA")
	}
}

// TestPKIGenerateCLIBadInput: every bad input exits 2 (or 1 for a directory
// that cannot be created), says what is wrong, and writes nothing: no
// directory, or an existing one left exactly as it was.
func TestPKIGenerateCLIBadInput(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	pass := writeFile(t, tmp, "pass", []byte(testPassphrase))
	empty := writeFile(t, tmp, "empty", []byte("\n"))
	notDir := writeFile(t, tmp, "file", nil)
	cases := []struct {
		name     string
		args     []string
		code     int
		says     string
		existing bool // the directory already holds cert.crt
	}{
		{"no passphrase", nil, exitUsage, "no passphrase for rootca.key", false},
		{"empty passphrase file", []string{"--passphrase-file", empty}, exitUsage, "is empty", false},
		{"missing passphrase file", []string{"--passphrase-file", filepath.Join(tmp, "nope")}, exitUsage, "read passphrase file", false},
		{"missing domain", []string{"--domain", "", "--passphrase-file", pass}, exitUsage, "--domain is required", false},
		{"URL as domain", []string{"--domain", "https://example.com", "--passphrase-file", pass}, exitUsage, "without https://", false},
		{"spaces", []string{"--domain", "example .com", "--passphrase-file", pass}, exitUsage, "contains spaces", false},
		{"empty label", []string{"--domain", "example..com", "--passphrase-file", pass}, exitUsage, "empty label", false},
		{"too long", []string{"--domain", strings.Repeat("a.", 127) + "com", "--passphrase-file", pass}, exitUsage, "at most 253", false},
		{"underscore hostname", []string{"--hostname", "my_app.example.com", "--passphrase-file", pass}, exitUsage, "underscore", false},
		{"URL hostname", []string{"--hostname", "https://app.example.com", "--passphrase-file", pass}, exitUsage, "pass the bare hostname, without https://", false},
		{"bad key type", []string{"--key-type", "dsa", "--passphrase-file", pass}, exitUsage, "unsupported key type", false},
		{"zero days", []string{"--ca-days", "0", "--passphrase-file", pass}, exitUsage, "--ca-days 0 is out of range", false},
		{"too many days", []string{"--cert-days", "99999999", "--passphrase-file", pass}, exitUsage, "--cert-days 99999999 is out of range", false},
		{"bad flag value", []string{"--ca-days", "ten", "--passphrase-file", pass}, exitUsage, "invalid argument", false},
		{"unwritable directory", []string{"--dir", filepath.Join(notDir, "aop"), "--passphrase-file", pass}, exitFailure, "create directory", false},
		{"existing files without --force", []string{"--passphrase-file", pass}, exitUsage, "files already exist in", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "aop")
			old := []byte("old certificate\n")
			if c.existing {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, dir, pki.ClientCertFile, old)
			}
			args := append([]string{"pki", "generate", "--dir", dir, "--domain", "example.com", "--key-type", "ecdsa-p256"}, c.args...)
			r := runCLI(t, args...)
			r.expect(t, c.code, c.says)
			if c.existing {
				entries, _ := os.ReadDir(dir)
				got, _ := os.ReadFile(filepath.Join(dir, pki.ClientCertFile))
				if len(entries) != 1 || !bytes.Equal(got, old) {
					t.Fatalf("refused run changed %s: %d entries, cert.crt %q", dir, len(entries), got)
				}
			} else if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("bad input created %s", dir)
			}
			assertNoSecrets(t, r, dir)
		})
	}
}

// checkFiles writes a CA, a leaf and keys for check tests into a new
// directory: rootca.*, cert.*, enc.key (cert.key encrypted), other.* (a
// leaf from another CA) and pass.
func checkFiles(t *testing.T) (dir string, set, other *pki.Set) {
	t.Helper()
	var err error
	if set, err = pki.NewSet(pki.SetOptions{Domain: "example.com", Hostnames: []string{"app.example.com"}, KeyType: pki.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	if other, err = pki.NewSet(pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256}); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	key, _ := set.Client.KeyPEM()
	otherKey, _ := other.Client.KeyPEM()
	caKey, _ := set.CA.KeyPEM()
	encLeafKey := pkitest.EncryptedKeyPEM(t, set.Client.Key, []byte(testPassphrase))
	writeFile(t, dir, "rootca.crt", set.CA.CertPEM())
	writeFile(t, dir, "rootca.key", caKey)
	writeFile(t, dir, "cert.crt", set.Client.CertPEM())
	writeFile(t, dir, "cert.key", key)
	writeFile(t, dir, "enc.key", encLeafKey)
	writeFile(t, dir, "other.crt", other.Client.CertPEM())
	writeFile(t, dir, "other.key", otherKey)
	writeFile(t, dir, "pass", []byte(testPassphrase+"\n"))
	return dir, set, other
}

func TestPKICheckCLI(t *testing.T) {
	t.Parallel()
	dir, _, _ := checkFiles(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	check := func(cert, key string, extra ...string) []string {
		return append([]string{"pki", "check", "--ca", p("rootca.crt"), "--cert", p(cert), "--key", p(key)}, extra...)
	}

	r := runCLI(t, check("cert.crt", "cert.key", "--hostname", "www.example.com")...)
	r.expect(t, exitOK, "warning: ", "does not name www.example.com", "fit for AOP upload")

	// Every problem is listed, each with what to do, and the exit code is 1.
	r = runCLI(t, check("other.crt", "enc.key", "--passphrase-file", p("pass"))...)
	r.expect(t, exitFailure, "problem 1:", "problem 2:", "problem 3:", "password-protected", "was not signed by", "does not belong to", "fix: ", "3 problem(s) found")
	assertNoSecrets(t, r, dir)

	r = runCLI(t, check("rootca.crt", "rootca.key")...)
	r.expect(t, exitFailure, `"missing leaf certificate"`, "basicConstraints=CA:FALSE", "without digitalSignature", "2 problem(s) found")
	assertNoSecrets(t, r, dir)

	r = runCLI(t, check("cert.crt", "other.key", "--json")...)
	if r.code != exitFailure {
		t.Fatalf("exit code %d, want 1: %s", r.code, r.errOut)
	}
	var rep struct {
		OK       bool `json:"ok"`
		Problems []struct{ Code, Message, Remedy string }
		Warnings []struct{ Code string }
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.out)
	}
	if rep.OK || len(rep.Problems) != 1 || rep.Problems[0].Code != "key-mismatch" || rep.Problems[0].Remedy == "" {
		t.Fatalf("--json report: %+v", rep)
	}

	// Bad input: exit 2.
	runCLI(t, check("missing.crt", "cert.key")...).expect(t, exitUsage, "read --cert", "missing.crt")
	runCLI(t, "pki", "check", "--ca", p("rootca.crt"), "--cert", p("cert.crt")).expect(t, exitUsage, "--key is required")
	runCLI(t, check("cert.crt", "cert.key", "--hostname", "https://app.example.com")...).expect(t, exitUsage, "without https://")
	runCLI(t, check("cert.crt", "cert.key", "extra-arg")...).expect(t, exitUsage)
}

func TestPKIInspectCLI(t *testing.T) {
	t.Parallel()
	dir, set, _ := checkFiles(t)
	p := func(name string) string { return filepath.Join(dir, name) }

	r := runCLI(t, "pki", "inspect", p("rootca.crt"), p("cert.crt"), p("cert.key"), p("enc.key"))
	r.expect(t, exitOK, "Subject:", "CN=app.example.com", "Issuer:", "Serial:", "days left", "ECDSA P-256", pki.Fingerprint(set.Client.Cert),
		"yes (basicConstraints CA:TRUE)", "no (basicConstraints CA:FALSE)", "private key, ECDSA P-256 (unencrypted)", "(encrypted)")
	assertNoSecrets(t, r, dir)

	r = runCLI(t, "pki", "inspect", "--json", p("cert.crt"), p("enc.key"), "--passphrase-file", p("pass"))
	r.expect(t, exitOK)
	var infos []pki.FileInfo
	if err := json.Unmarshal([]byte(r.out), &infos); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.out)
	}
	if len(infos) != 2 || infos[0].Certificates[0].SHA256 != pki.Fingerprint(set.Client.Cert) || infos[0].Certificates[0].IsCA ||
		infos[1].Key == nil || !infos[1].Key.Encrypted || infos[1].Key.KeyType != "ECDSA P-256" {
		t.Fatalf("--json: %+v", infos)
	}
	assertNoSecrets(t, r, dir)

	garbage := writeFile(t, t.TempDir(), "garbage", []byte("hello"))
	r = runCLI(t, "pki", "inspect", p("cert.crt"), garbage, p("missing"))
	r.expect(t, exitUsage, "CN=app.example.com", "neither a certificate nor a private key", "no such file")
	runCLI(t, "pki", "inspect").expect(t, exitUsage, "requires at least 1 arg")
}

// TestPKIGenerateCLIInterrupted: a run interrupted during key generation
// exits 130 and leaves no files.
func TestPKIGenerateCLIInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "aop")
	var out, errb bytes.Buffer
	code := execute(ctx, []string{"pki", "generate", "--dir", dir, "--domain", "example.com", "--key-type", "ecdsa-p256", "--no-passphrase"}, &out, &errb)
	if code != exitInterrupted {
		t.Fatalf("exit code %d, want %d: %s", code, exitInterrupted, errb.String())
	}
	if !strings.Contains(errb.String(), "interrupted: nothing was written to "+dir) {
		t.Fatalf("stderr does not say that nothing was written: %s", errb.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("interrupted run created %s", dir)
	}
}
