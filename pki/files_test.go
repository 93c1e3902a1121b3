package pki_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/pki"
)

func newSet(t testing.TB) *pki.Set {
	t.Helper()
	set, err := pki.NewSet(pki.SetOptions{Domain: "example.com", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestPKIWriteAndLoadFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "aop")
	set := newSet(t)
	written, err := pki.WriteFiles(dir, set, pki.WriteOptions{Passphrase: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 4 {
		t.Fatalf("wrote %v", written)
	}
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Errorf("directory mode %o, want 700", m)
	}
	want := map[string]os.FileMode{pki.CAKeyFile: 0o600, pki.ClientKeyFile: 0o600, pki.CACertFile: 0o644, pki.ClientCertFile: 0o644}
	for name, m := range want {
		if got := mode(filepath.Join(dir, name)); got != m {
			t.Errorf("%s mode %o, want %o", name, got, m)
		}
	}
	caKey, _ := os.ReadFile(filepath.Join(dir, pki.CAKeyFile))
	if !bytes.HasPrefix(caKey, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		t.Fatalf("rootca.key is not encrypted PKCS#8: %.40s", caKey)
	}
	leafKey, _ := os.ReadFile(filepath.Join(dir, pki.ClientKeyFile))
	if !bytes.HasPrefix(leafKey, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("cert.key is not plain PKCS#8: %.40s", leafKey)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Fatalf("directory holds %d entries, want the 4 files and no temporaries", len(entries))
	}

	got, err := pki.LoadFiles(dir, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.CA.Cert.Equal(set.CA.Cert) || !got.Client.Cert.Equal(set.Client.Cert) {
		t.Fatal("loaded set differs from the written one")
	}
	if _, err := pki.LoadFiles(dir, nil); !errors.Is(err, pki.ErrEncryptedKey) {
		t.Fatalf("load without passphrase: %v", err)
	}
}

func TestPKIWriteFilesUnencrypted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := pki.WriteFiles(dir, newSet(t), pki.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "no passphrase") {
		t.Fatalf("no passphrase and no opt-in: %v", err)
	}
	if _, err := pki.WriteFiles(dir, newSet(t), pki.WriteOptions{Unencrypted: true}); err != nil {
		t.Fatal(err)
	}
	caKey, _ := os.ReadFile(filepath.Join(dir, pki.CAKeyFile))
	if !bytes.HasPrefix(caKey, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("rootca.key with Unencrypted: %.40s", caKey)
	}
}

func TestPKIWriteFilesRefusals(t *testing.T) {
	t.Parallel()
	t.Run("existing files without force", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		old := []byte("old certificate\n")
		if err := os.WriteFile(filepath.Join(dir, pki.ClientCertFile), old, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := pki.WriteFiles(dir, newSet(t), pki.WriteOptions{Unencrypted: true})
		// The library names the files and the choice, never a CLI flag: the
		// wizard words the choice as a question.
		var ee *pki.ExistsError
		if !errors.Is(err, pki.ErrExists) || !errors.As(err, &ee) || ee.Dir != dir || !slices.Equal(ee.Names, []string{pki.ClientCertFile}) ||
			!strings.Contains(err.Error(), "cert.crt") || strings.Contains(err.Error(), "--") {
			t.Fatalf("error %v, want an ExistsError naming cert.crt and no flag", err)
		}
		assertOnly(t, dir, map[string][]byte{pki.ClientCertFile: old})

		if _, err := pki.WriteFiles(dir, newSet(t), pki.WriteOptions{Unencrypted: true, Force: true}); err != nil {
			t.Fatalf("with force: %v", err)
		}
	})
	t.Run("unwritable directory", func(t *testing.T) {
		t.Parallel()
		parent := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(parent, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := pki.WriteFiles(filepath.Join(parent, "aop"), newSet(t), pki.WriteOptions{Unencrypted: true})
		if err == nil || !strings.Contains(err.Error(), "create directory") {
			t.Fatalf("error %v, want one about the directory", err)
		}
	})
	t.Run("failure halfway leaves the old files", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		oldKey := []byte("old ca key\n")
		if err := os.WriteFile(filepath.Join(dir, pki.CAKeyFile), oldKey, 0o600); err != nil {
			t.Fatal(err)
		}
		// The last file cannot be replaced: a directory is in its way.
		if err := os.Mkdir(filepath.Join(dir, pki.ClientCertFile), 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := pki.WriteFiles(dir, newSet(t), pki.WriteOptions{Unencrypted: true, Force: true})
		if err == nil || !strings.Contains(err.Error(), "cert.crt") {
			t.Fatalf("error %v, want one naming cert.crt", err)
		}
		assertOnly(t, dir, map[string][]byte{pki.CAKeyFile: oldKey, pki.ClientCertFile: nil})
	})
}

// assertOnly checks dir holds exactly the given entries (nil content = a
// directory), so nothing half-written was left behind.
func assertOnly(t *testing.T, dir string, want map[string][]byte) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only %d entries", names, len(want))
	}
	for name, content := range want {
		if content == nil {
			continue
		}
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s changed: %q, %v", name, got, err)
		}
	}
}
