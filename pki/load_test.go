package pki_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// Issue 7 defect 3: every certificate and key read is bounded and refuses
// what is not a regular file at once, instead of reading /dev/zero until
// memory runs out or waiting on a FIFO with no writer.
func TestLoadKeyPairAndTrustPoolAreBounded(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(big, make([]byte, pki.MaxInputSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey)
	if _, err := pki.LoadKeyPair(cert, key); err != nil {
		t.Fatalf("the lab's server pair: %v", err)
	}
	for _, c := range []struct {
		cert, key string
		want      error
		says      string
	}{
		{"/dev/zero", key, pki.ErrNotRegular, "certificate file /dev/zero: not a regular file (it is a device)"},
		{cert, fifo, pki.ErrNotRegular, "(it is a named pipe)"},
		{cert, t.TempDir(), pki.ErrNotRegular, "(it is a directory)"},
		{big, key, pki.ErrTooLarge, "more than 1 MiB"},
	} {
		if _, err := pki.LoadKeyPair(c.cert, c.key); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("LoadKeyPair(%s, %s): %v; want %v saying %q", c.cert, c.key, err, c.want, c.says)
		}
	}

	// A pinned self-signed leaf is a fine trust anchor for a client.
	if _, err := pki.LoadTrustPool(lab.Path("clientA.pem")); err != nil {
		t.Errorf("LoadTrustPool of a leaf: %v", err)
	}
	if _, err := pki.LoadTrustPool("/dev/zero"); !errors.Is(err, pki.ErrNotRegular) {
		t.Errorf("LoadTrustPool(/dev/zero): %v", err)
	}
	if _, err := pki.LoadTrustPool(key); err == nil {
		t.Error("LoadTrustPool of a key file succeeded")
	}
}
