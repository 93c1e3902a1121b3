package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/servertest"
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

	// The library words remedies in product terms; the CLI names its flag.
	r = runCLI(t, check("cert.crt", "enc.key")...)
	r.expect(t, exitFailure, "could not be compared", "fix: pass --passphrase-file to check it as well")

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

// startMain runs this test binary as the aopwizard command (see TestMain)
// with args, stdin as its standard input, and its stderr captured.
func startMain(t *testing.T, stdin *os.File, args ...string) (*exec.Cmd, *pkitest.LockedBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AOPWIZARD_TEST_RUN_MAIN=1")
	cmd.Stdin = stdin
	var stderr pkitest.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stderr
}

// waitExit returns the exit code of cmd, failing the test when it does not
// end within a deadline that holds on 2 busy cores under -race.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *pkitest.LockedBuffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("aopwizard did not exit within 30 s of SIGINT; stderr:\n%s", stderr.String())
	}
	return -1
}

// interruptReadingStdin starts aopwizard with args on a stdin pipe that is
// never closed, waits until it has opened /dev/stdin itself (so it is past
// its signal setup and in the read), sends SIGINT and returns the exit code.
func interruptReadingStdin(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // only after the child is gone: it must see no EOF
	var st syscall.Stat_t
	if err := syscall.Fstat(int(r.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	pipe := fmt.Sprintf("pipe:[%d]", st.Ino)
	cmd, stderr := startMain(t, r, args...)
	servertest.Eventually(t, "aopwizard to open /dev/stdin", func() error {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", cmd.Process.Pid))
		n := 0
		for _, fd := range fds {
			if target, _ := os.Readlink(fd); target == pipe {
				n++
			}
		}
		if n < 2 { // fd 0, and the one opened for the read
			return fmt.Errorf("%d descriptors on the stdin pipe; stderr so far:\n%s", n, stderr.String())
		}
		return nil
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	return waitExit(t, cmd, stderr), stderr.String()
}

// Defect: `sleep 30 | aopwizard pki inspect /dev/stdin` ignored SIGINT. The
// read stops and the command exits 130 at once.
func TestPKIInspectStdinInterrupted(t *testing.T) {
	t.Parallel()
	if code, errs := interruptReadingStdin(t, "pki", "inspect", "/dev/stdin"); code != exitInterrupted || !strings.Contains(errs, "interrupted") {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, errs)
	}
}

// Defect: `pki check --cert /dev/zero` died "out of memory". Every file the
// pki commands read is capped at 1 MiB, and the error names the file.
func TestPKIOversizedInput(t *testing.T) {
	t.Parallel()
	dir, _, _ := checkFiles(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	runCLI(t, "pki", "check", "--ca", p("rootca.crt"), "--cert", "/dev/zero", "--key", p("cert.key")).
		expect(t, exitUsage, "read --cert", "/dev/zero", "more than 1 MiB")
	runCLI(t, "pki", "check", "--ca", p("rootca.crt"), "--cert", p("cert.crt"), "--key", p("enc.key"), "--passphrase-file", "/dev/zero").
		expect(t, exitUsage, "read passphrase file", "/dev/zero", "more than 1 MiB")
	runCLI(t, "pki", "inspect", p("cert.crt"), "/dev/zero").expect(t, exitUsage, "CN=app.example.com", "/dev/zero", "more than 1 MiB")
	runCLI(t, "pki", "generate", "--dir", filepath.Join(t.TempDir(), "aop"), "--domain", "example.com", "--passphrase-file", "/dev/zero").
		expect(t, exitUsage, "/dev/zero", "more than 1 MiB")
}

// Ctrl-C while RSA keys are generated exits 130 and writes nothing. The
// progress line on stderr says the keys are being made, which is also how
// this test knows generation is under way.
func TestPKIGenerateInterruptedDuringKeyGeneration(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "aop")
	cmd, stderr := startMain(t, nil, "pki", "generate", "--dir", dir, "--domain", "example.com", "--key-type", "rsa4096", "--no-passphrase")
	servertest.Eventually(t, "key generation to start", func() error {
		if !strings.Contains(stderr.String(), "generating the CA key (rsa4096)") {
			return fmt.Errorf("stderr so far:\n%s", stderr.String())
		}
		return nil
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, stderr); code != exitInterrupted || !strings.Contains(stderr.String(), "interrupted: nothing was written to "+dir) {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("interrupted run created %s", dir)
	}
}

// Defect: a 253-character hostname became the common name. It is in the
// DNS names only, the common name fits RFC 5280's 64 characters, generate
// says so, and check accepts the result.
func TestPKIGenerateLongHostname(t *testing.T) {
	t.Parallel()
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 49) + ".example.com"
	if len(long) != 253 {
		t.Fatalf("test hostname is %d characters", len(long))
	}
	dir := filepath.Join(t.TempDir(), "aop")
	r := runCLI(t, "pki", "generate", "--dir", dir, "--domain", "example.com", "--hostname", long, "--key-type", "ecdsa-p256", "--no-passphrase")
	r.expect(t, exitOK, "note: "+long+" is 253 characters long", "DNS "+long)
	set, err := pki.LoadFiles(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cn := set.Client.Cert.Subject.CommonName; len(cn) > 64 || cn != "example.com" {
		t.Fatalf("client common name %q", cn)
	}
	runCLI(t, "pki", "check", "--ca", filepath.Join(dir, "rootca.crt"), "--cert", filepath.Join(dir, "cert.crt"),
		"--key", filepath.Join(dir, "cert.key"), "--hostname", long).expect(t, exitOK, "fit for AOP upload")
}

// Defect: inspect called a key encrypted with 3M PBKDF2 iterations "not a
// certificate", and check advised passing another key. Both give the real
// reason and how to re-encrypt it.
func TestPKIManyPBKDF2IterationsCLI(t *testing.T) {
	t.Parallel()
	pkitest.OpenSSL(t)
	dir, _, _ := checkFiles(t)
	p := func(name string) string { return filepath.Join(dir, name) }
	pkitest.RunOpenSSL(t, dir, "pkcs8", "-topk8", "-in", "cert.key", "-v2", "aes256", "-iter", "3000000", "-passout", "file:pass", "-out", "slow.key")
	r := runCLI(t, "pki", "inspect", "--passphrase-file", p("pass"), p("slow.key"))
	r.expect(t, exitUsage, "3000000 PBKDF2 iterations", "openssl pkcs8 -topk8 -v2 aes-256-cbc -iter 600000")
	if strings.Contains(r.errOut, "not a certificate") {
		t.Fatalf("inspect blames the wrong thing:\n%s", r.errOut)
	}
	r = runCLI(t, "pki", "check", "--ca", p("rootca.crt"), "--cert", p("cert.crt"), "--key", p("slow.key"), "--passphrase-file", p("pass"))
	r.expect(t, exitFailure, "3000000 PBKDF2 iterations", "-iter 600000")
	if strings.Contains(r.out, "pass the private key made with the client certificate") {
		t.Fatalf("check gives an unrelated fix:\n%s", r.out)
	}
	assertNoSecrets(t, r, dir)
}
