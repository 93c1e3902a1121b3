package pki_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// waitFor returns what ch delivers, failing the test when nothing arrives
// within a deadline generous enough for 2 busy cores under -race: a read
// that ignores its context would block for ever.
func waitFor[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not happen within 30 s", what)
	}
	panic("unreachable")
}

// Defect: pki check --cert /dev/zero died "out of memory". Every input read
// is capped, and the error names the file and the limit.
func TestPKIReadInputLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := pki.ReadInput(ctx, "/dev/zero", pki.MaxInputSize)
	if !errors.Is(err, pki.ErrTooLarge) || !strings.Contains(err.Error(), "/dev/zero") || !strings.Contains(err.Error(), "1 MiB") {
		t.Fatalf("/dev/zero: %v, want ErrTooLarge naming the file and 1 MiB", err)
	}

	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("x", 17)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.ReadInput(ctx, big, 16); !errors.Is(err, pki.ErrTooLarge) || !strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("17-byte file with a 16-byte limit: %v", err)
	}
	if data, err := pki.ReadInput(ctx, big, 17); err != nil || len(data) != 17 {
		t.Fatalf("file of exactly the limit: %d bytes, %v", len(data), err)
	}
	if _, err := pki.ReadInput(ctx, filepath.Join(dir, "missing"), 16); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := pki.ReadInput(ctx, dir, 16); err == nil {
		t.Fatal("a directory was read as a file")
	}
}

// Defect: `sleep 30 | aopwizard pki inspect /dev/stdin` ignored Ctrl-C. A
// read of a pipe or FIFO whose writer never closes, or of a FIFO nobody
// opened for writing, ends when the context is cancelled.
func TestPKIReadInputInterrupted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]func(t *testing.T) string{
		"pipe that never closes": func(t *testing.T) string {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(); w.Close() })
			if _, err := w.Write([]byte("-----BEGIN CERTIFICATE-----\n")); err != nil {
				t.Fatal(err)
			}
			return fmt.Sprintf("/proc/self/fd/%d", r.Fd())
		},
		"FIFO that never closes": func(t *testing.T) string {
			p := filepath.Join(dir, "open.fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			// Opened read-write, so the reader's open succeeds and no EOF ever comes.
			w, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })
			return p
		},
		"FIFO without a writer": func(t *testing.T) string {
			p := filepath.Join(dir, "lonely.fifo")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			path := setup(t)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := pki.ReadInput(ctx, path, pki.MaxInputSize)
				done <- err
			}()
			cancel()
			if err := waitFor(t, "ReadInput", done); !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want one wrapping context.Canceled", err)
			}
		})
	}

	// A streaming reader (OpenInput) blocked in Read is woken as well.
	p := filepath.Join(dir, "stream.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := pki.OpenInput(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := w.Write([]byte("aop1 ")); err != nil {
		t.Fatal(err)
	}
	first, done := make(chan struct{}), make(chan error, 1)
	go func() {
		// The first Read returns what was written; the next one waits.
		if _, err := r.Read(make([]byte, 64)); err != nil {
			done <- err
			return
		}
		close(first)
		_, err := io.ReadAll(r)
		done <- err
	}()
	waitFor(t, "the first Read", first)
	cancel()
	if err := waitFor(t, "a Read of OpenInput", done); !errors.Is(err, context.Canceled) {
		t.Fatalf("read error %v, want one wrapping context.Canceled", err)
	}
}

func TestPKIReadPassphrase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()
	for in, want := range map[string]string{"s3cret\n": "s3cret", "s3cret\r\n": "s3cret", "s3cret": "s3cret", "two\n\n": "two\n"} {
		got, err := pki.ReadPassphrase(ctx, write("p", in))
		if err != nil || string(got) != want {
			t.Errorf("passphrase file %q: %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := pki.ReadPassphrase(ctx, write("empty", "\n")); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty passphrase file: %v", err)
	}
	if _, err := pki.ReadPassphrase(ctx, "/dev/zero"); !errors.Is(err, pki.ErrTooLarge) {
		t.Errorf("/dev/zero as passphrase file: %v", err)
	}
}

// Reading the set back (LoadFiles) is capped like every other read.
func TestPKILoadFilesCapped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := pki.WriteFiles(dir, newSet(t), pki.WriteOptions{Unencrypted: true}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, pki.ClientCertFile)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", p); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadFiles(dir, nil); !errors.Is(err, pki.ErrTooLarge) {
		t.Fatalf("cert.crt -> /dev/zero: %v", err)
	}
}
