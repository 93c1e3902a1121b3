package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/renameio/v2"
	"go.step.sm/crypto/pemutil"
)

// Names of the files the Cloudflare docs' openssl recipe makes; WriteFiles
// and LoadFiles use them so an operator can follow either.
const (
	CAKeyFile      = "rootca.key"
	CACertFile     = "rootca.crt"
	ClientKeyFile  = "cert.key"
	ClientCertFile = "cert.crt"
)

// File modes: keys are secret; certificates are public and must be readable
// by the web server that loads the CA.
const (
	DirMode  os.FileMode = 0o700
	KeyMode  os.FileMode = 0o600
	CertMode os.FileMode = 0o644
)

// ErrExists is wrapped by WriteFiles when it would overwrite files.
var ErrExists = errors.New("files already exist")

// ExistsError is what CheckNoFiles and WriteFiles return when dir already
// holds files of the set. It matches ErrExists. Its remedy is a choice of
// the caller's (replace the files, or another directory), so front ends
// word it themselves from Dir and Names: a flag in the CLI, a question in
// the wizard.
type ExistsError struct {
	Dir   string
	Names []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%v in %s: %s; replacing them makes origins that trust the old CA reject certificates from the new one: choose another directory, or choose to replace them", ErrExists, e.Dir, strings.Join(e.Names, ", "))
}

// Is makes errors.Is(err, ErrExists) true.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }

// EncryptedKeyPEM encodes the private key as PKCS#8 encrypted with AES-256-CBC
// under a PBKDF2-SHA256 key from passphrase ("ENCRYPTED PRIVATE KEY", what
// openssl genrsa -aes256 writes and openssl pkey -passin reads).
func (p *Pair) EncryptedKeyPEM(passphrase []byte) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("passphrase is empty: an encrypted key needs one")
	}
	der, err := x509.MarshalPKCS8PrivateKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	block, err := pemutil.EncryptPKCS8PrivateKey(rand.Reader, der, passphrase, x509.PEMCipherAES256)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// WriteOptions controls WriteFiles.
type WriteOptions struct {
	// Passphrase encrypts rootca.key. It must be set unless Unencrypted is.
	Passphrase []byte
	// Unencrypted writes rootca.key as plain PKCS#8; callers must ask the
	// operator first, since the CA key can mint client certificates.
	Unencrypted bool
	// Force overwrites existing files; without it WriteFiles refuses.
	Force bool
}

// WrittenFile is one file WriteFiles wrote.
type WrittenFile struct {
	Path string
	Mode os.FileMode
}

type stagedFile struct {
	name string
	data []byte
	mode os.FileMode
}

// WriteFiles writes set into dir as rootca.key (encrypted unless
// opts.Unencrypted), rootca.crt, cert.key (unencrypted: Cloudflare needs it
// so) and cert.crt. dir is created 0700 if missing. Either every file is
// written or none is changed: all are staged as temporary files first, and a
// failed rename puts back what earlier renames replaced.
func WriteFiles(dir string, set *Set, opts WriteOptions) ([]WrittenFile, error) {
	if set == nil || set.CA == nil || set.Client == nil {
		return nil, errors.New("nothing to write: the set needs a CA and a client certificate")
	}
	if len(opts.Passphrase) == 0 && !opts.Unencrypted {
		return nil, errors.New("no passphrase for rootca.key: give one, or explicitly choose to write the CA key unencrypted")
	}
	if len(opts.Passphrase) > 0 && opts.Unencrypted {
		return nil, errors.New("both a passphrase and an unencrypted CA key were asked for: choose one")
	}
	if !opts.Force {
		if err := CheckNoFiles(dir); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, fmt.Errorf("create directory %s: %w: choose a directory you can write to", dir, err)
	}
	files, err := encodeSet(set, opts)
	if err != nil {
		return nil, err
	}
	old, err := existingFiles(dir, files)
	if err != nil {
		return nil, err
	}
	if len(old) > 0 && !opts.Force {
		// Created between CheckNoFiles and now.
		return nil, CheckNoFiles(dir)
	}
	return commit(dir, files, old)
}

// SetFiles lists the names WriteFiles writes, in the order it writes them.
var SetFiles = []string{CAKeyFile, CACertFile, ClientKeyFile, ClientCertFile}

// CheckNoFiles returns an *ExistsError, naming the files, when
// dir already holds any file of the set; callers use it to refuse before
// spending seconds on RSA key generation.
func CheckNoFiles(dir string) error {
	var names []string
	for _, name := range SetFiles {
		p := filepath.Join(dir, name)
		_, err := os.Lstat(p)
		switch {
		case err == nil:
			names = append(names, name)
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("check %s: %w", p, err)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &ExistsError{Dir: dir, Names: names}
}

func encodeSet(set *Set, opts WriteOptions) ([]stagedFile, error) {
	var caKey []byte
	var err error
	if opts.Unencrypted {
		caKey, err = set.CA.KeyPEM()
	} else {
		caKey, err = set.CA.EncryptedKeyPEM(opts.Passphrase)
	}
	if err != nil {
		return nil, err
	}
	clientKey, err := set.Client.KeyPEM()
	if err != nil {
		return nil, err
	}
	return []stagedFile{
		{CAKeyFile, caKey, KeyMode},
		{CACertFile, set.CA.CertPEM(), CertMode},
		{ClientKeyFile, clientKey, KeyMode},
		{ClientCertFile, set.Client.CertPEM(), CertMode},
	}, nil
}

// previous is what a file held before WriteFiles replaced it.
type previous struct {
	data []byte
	mode os.FileMode
}

// existingFiles returns the files of the set already in dir, with their
// contents so a failed commit can restore them.
func existingFiles(dir string, files []stagedFile) (map[string]*previous, error) {
	old := map[string]*previous{}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", p, err)
		}
		if !fi.Mode().IsRegular() {
			old[f.name] = nil // not restorable, but still "existing"
			continue
		}
		data, err := ReadInput(context.Background(), p, MaxInputSize)
		if err != nil {
			return nil, fmt.Errorf("read %s before replacing it: %w", p, err)
		}
		old[f.name] = &previous{data, fi.Mode().Perm()}
	}
	return old, nil
}

func commit(dir string, files []stagedFile, old map[string]*previous) ([]WrittenFile, error) {
	pending := make([]*renameio.PendingFile, 0, len(files))
	defer func() {
		for _, pf := range pending {
			_ = pf.Cleanup() // no-op for files already renamed into place
		}
	}()
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		pf, err := renameio.NewPendingFile(p, renameio.WithTempDir(dir), renameio.WithStaticPermissions(f.mode))
		if err != nil {
			return nil, fmt.Errorf("write %s: %w: choose a directory you can write to", p, err)
		}
		pending = append(pending, pf)
		if _, err := pf.Write(f.data); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	}
	written := make([]WrittenFile, 0, len(files))
	for i, pf := range pending {
		p := filepath.Join(dir, files[i].name)
		if err := pf.CloseAtomicallyReplace(); err != nil {
			err = fmt.Errorf("write %s: %w", p, err)
			return nil, errors.Join(err, rollback(dir, files[:i], old))
		}
		written = append(written, WrittenFile{p, files[i].mode})
	}
	return written, nil
}

// rollback undoes the renames of files: it restores what they replaced, or
// removes them where nothing was there.
func rollback(dir string, files []stagedFile, old map[string]*previous) error {
	var errs []error
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		prev, existed := old[f.name]
		switch {
		case !existed:
			if err := os.Remove(p); err != nil {
				errs = append(errs, fmt.Errorf("remove %s after a failed write: %w", p, err))
			}
		case prev != nil:
			if err := renameio.WriteFile(p, prev.data, prev.mode, renameio.WithTempDir(dir), renameio.WithStaticPermissions(prev.mode)); err != nil {
				errs = append(errs, fmt.Errorf("restore %s after a failed write: %w", p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// LoadFiles is LoadFilesContext without cancellation.
func LoadFiles(dir string, passphrase []byte) (*Set, error) {
	return LoadFilesContext(context.Background(), dir, passphrase)
}

// LoadFilesContext reads the set WriteFiles wrote (or the docs' recipe made)
// from dir. passphrase decrypts rootca.key when it is encrypted. Each key
// must match its certificate.
func LoadFilesContext(ctx context.Context, dir string, passphrase []byte) (*Set, error) {
	ca, err := loadPair(ctx, dir, CACertFile, CAKeyFile, passphrase)
	if err != nil {
		return nil, err
	}
	client, err := loadPair(ctx, dir, ClientCertFile, ClientKeyFile, nil)
	if err != nil {
		return nil, err
	}
	return &Set{CA: ca, Client: client}, nil
}

func loadPair(ctx context.Context, dir, certName, keyName string, passphrase []byte) (*Pair, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	data, err := ReadInput(ctx, certPath, MaxInputSize)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certPath, err)
	}
	data, err = ReadInput(ctx, keyPath, MaxInputSize)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := ParsePrivateKey(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	if !KeyMatches(certs[0], key) {
		return nil, fmt.Errorf("%s does not belong to %s: keep each key with the certificate made with it", keyPath, certPath)
	}
	return &Pair{Cert: certs[0], Key: key}, nil
}

// KeyMatches reports whether key is the private half of cert's public key.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && key != nil && pub.Equal(key.Public())
}
