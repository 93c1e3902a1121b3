package pkitest

import (
	"os"
	"os/exec"
	"testing"
)

// OpenSSL returns the path of the openssl CLI. Without one the test is
// skipped, or fails when AOPWIZARD_REQUIRE_SERVERS=1 (as in CI), so interop
// tests never pass by not running.
func OpenSSL(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("AOPWIZARD_REQUIRE_SERVERS") == "1" {
			t.Fatalf("openssl CLI not found and AOPWIZARD_REQUIRE_SERVERS=1: install it (apt-get install openssl)")
		}
		t.Skip("openssl CLI not found: install it (apt-get install openssl) to run the interop tests")
	}
	return path
}

// RunOpenSSL runs openssl with args in dir and returns its combined output,
// failing the test when it exits non-zero.
func RunOpenSSL(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := OpenSSLCmd(t, dir, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// OpenSSLCmd prepares openssl with args in dir, for tests that expect it to
// fail or need its exit status.
func OpenSSLCmd(t testing.TB, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(OpenSSL(t), args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	return cmd
}
