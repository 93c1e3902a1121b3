package steps

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/pki"
)

// NeedsServerCert reports whether Validate requires the origin's own TLS
// certificate file: the origin config may be aopwizard's own block
// (needsServerCert), except with ingress-nginx, which takes it from a
// Kubernetes secret.
func (in *Inputs) NeedsServerCert() bool {
	return in.Server != string(render.IngressNginx) && in.needsServerCert()
}

// NeedsServerKey reports whether Validate also requires its key file:
// HAProxy reads the key from the certificate's own file.
func (in *Inputs) NeedsServerKey() bool {
	return in.NeedsServerCert() && in.Server != string(render.HAProxy)
}

// ServerCertQuestion is what to ask about the origin's own certificate.
type ServerCertQuestion struct {
	// Cert and Key say whether the rollout needs the certificate file and
	// the key file.
	Cert, Key bool
	// Found is the certificate of the site that already serves the
	// hostnames, the natural answer; nil when none was found.
	Found *FoundServerCert
}

// FoundServerCert is the certificate and key of an existing TLS site.
type FoundServerCert struct {
	Cert, Key string
	// Hostname is the name the site was found by; Site is where its block
	// is (file:line).
	Hostname, Site string
}

// From says where the certificate was found, for the operator.
func (f *FoundServerCert) From() string {
	return "detected from the site that serves " + f.Hostname + " (" + f.Site + ")"
}

// ServerCertQuestion says whether the rollout needs the origin's own
// certificate and key, given found, the sites of the inputs' server on this
// machine (FindSites; nil when they could not be read). It needs them when
// Validate does (NeedsServerCert), and also where the origin step would
// write aopwizard's own block although Validate cannot tell: in apply mode
// with the default target, when no hostname is named or no TLS site
// serves any of them (origin/inplace ChooseTarget then picks the managed
// block, which serves the origin's certificate).
func (in *Inputs) ServerCertQuestion(found *sites.Config) ServerCertQuestion {
	q := ServerCertQuestion{Cert: in.NeedsServerCert(), Key: in.NeedsServerKey()}
	kind := render.Server(in.Server)
	if !q.Cert && in.OriginConfig != OriginManual && in.Origin.Target == "" && editable(kind) &&
		(len(in.Hostnames) == 0 || found != nil && !served(found, in.Hostnames)) {
		q.Cert, q.Key = true, kind != render.HAProxy
	}
	if q.Cert {
		q.Found = DetectServerCert(kind, in.Zone, in.Hostnames, found)
	}
	return q
}

// editable: the servers whose existing sites the rollout edits in place.
func editable(kind render.Server) bool {
	return kind == render.Nginx || kind == render.Apache || kind == render.HAProxy
}

// served reports whether a TLS block names any of hostnames.
func served(found *sites.Config, hostnames []string) bool {
	for _, h := range found.Lookup(hostnames) {
		if len(h.Blocks) > 0 {
			return true
		}
	}
	return false
}

// DetectServerCert finds the certificate and key of the TLS site of kind
// that serves the hostnames, in found (FindSites): the first hostname
// served by a block with both files wins. With no hostname named, the
// zone's own name, its www name, then any name in the zone count. Only
// absolute paths without variables are offered: a relative one is
// relative to the server's own directory, and "$ssl_server_name" is known
// only per request. nil when none is found.
func DetectServerCert(kind render.Server, zone string, hostnames []string, found *sites.Config) *FoundServerCert {
	if found == nil || found.Server != kind {
		return nil
	}
	names := hostnames
	if len(names) == 0 && zone != "" {
		names = []string{zone, "www." + zone}
	}
	for _, h := range found.Lookup(names) {
		for _, b := range h.Blocks {
			if f := usableCert(kind, b.Block, h.Hostname); f != nil {
				return f
			}
		}
	}
	if len(hostnames) > 0 || zone == "" {
		return nil
	}
	for _, b := range found.Blocks {
		if !b.TLS {
			continue
		}
		for _, n := range b.Names {
			if n = strings.ToLower(n); !strings.ContainsAny(n, "*~") && pki.InDomain(n, zone) {
				if f := usableCert(kind, b.Block, n); f != nil {
					return f
				}
			}
		}
	}
	return nil
}

func usableCert(kind render.Server, b sites.Block, host string) *FoundServerCert {
	usable := func(p string) bool {
		return filepath.IsAbs(p) && !strings.Contains(p, "$")
	}
	if !usable(b.Certificate) || kind != render.HAProxy && !usable(b.Key) {
		return nil
	}
	f := &FoundServerCert{Cert: b.Certificate, Hostname: host, Site: b.Where()}
	if kind != render.HAProxy {
		f.Key = b.Key
	}
	return f
}

// FindSites reads the TLS sites of the inputs' server on this machine
// (nginx -T, Apache's virtual hosts, HAProxy's config), with the layout the
// inputs override, through runner (nil runs the commands). Only nginx,
// Apache and HAProxy have sites to read.
func FindSites(ctx context.Context, in Inputs, runner server.Runner) (*sites.Config, error) {
	if !editable(render.Server(in.Server)) {
		return nil, fmt.Errorf("aopwizard reads the sites of nginx, apache and haproxy only, not of %s", orNone(in.Server))
	}
	o, err := NewServerOrigin(in, runner, io.Discard, "")
	if err != nil {
		return nil, err
	}
	return sites.Discover(ctx, o.Runner, o.Driver)
}

func orNone(s string) string {
	if s == "" {
		return "no server"
	}
	return s
}

// CheckServerCert checks that path holds the origin's own certificate as
// kind's server reads it: a PEM certificate (chain), and for HAProxy its
// key too, in the same file or next to it in <path>.key. A file that
// exists but that this user may not read is accepted: the server reads
// it as root.
func CheckServerCert(kind render.Server, path string) error {
	data, err := readServerFile(path, "certificate")
	if data == nil {
		return err
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return fmt.Errorf("%s is not a certificate: %w", path, err)
	}
	if kind != render.HAProxy {
		return nil
	}
	keyPEM, keyPath := data, path
	if _, err := pki.ParsePrivateKey(data, nil); err != nil && !errors.Is(err, pki.ErrEncryptedKey) {
		keyPath = path + ".key"
		if keyPEM, err = readServerFile(keyPath, "key"); err != nil {
			return fmt.Errorf("%s holds no private key, and there is no readable %s either: HAProxy takes the certificate and its key in one PEM file (cat cert key > combined.pem, mode 0600)", path, keyPath)
		}
		if keyPEM == nil {
			return nil // there, readable by the server only
		}
	}
	return checkKeyOf(certs[0], keyPEM, keyPath)
}

// CheckServerKey checks that path holds a private key that TLS servers
// read without a passphrase and, when certPath is a readable certificate,
// the key of that certificate.
func CheckServerKey(path, certPath string) error {
	data, err := readServerFile(path, "key")
	if data == nil {
		return err
	}
	var cert *x509.Certificate
	if certPEM, _ := readServerFile(certPath, "certificate"); certPEM != nil {
		if certs, err := pki.ParseCertificates(certPEM); err == nil {
			cert = certs[0]
		}
	}
	return checkKeyOf(cert, data, path)
}

func checkKeyOf(cert *x509.Certificate, keyPEM []byte, path string) error {
	key, err := pki.ParsePrivateKey(keyPEM, nil)
	switch {
	case errors.Is(err, pki.ErrEncryptedKey):
		return fmt.Errorf("the key in %s is encrypted: a server reads its key at every start without asking, so decrypt it (openssl pkey -in %s -out plain.key, mode 0600)", path, path)
	case err != nil:
		return fmt.Errorf("%s is not a private key: %w", path, err)
	case cert != nil && !pki.KeyMatches(cert, key):
		return fmt.Errorf("the key in %s is not the key of the certificate: give the key file made with that certificate", path)
	}
	return nil
}

// readServerFile reads a certificate or key file; nil data with a nil
// error means it exists but this user may not read it.
func readServerFile(path, what string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("the %s file is required: give the path of the PEM file the origin server uses", what)
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = abs
	}
	data, err := pki.ReadRegular(path, pki.MaxInputSize, what+" file")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("there is no file at %s: give the path of the origin's %s (PEM) on this machine", path, what)
	case errors.Is(err, fs.ErrPermission):
		if _, serr := os.Stat(path); serr == nil {
			return nil, nil
		}
	case errors.Is(err, pki.ErrNotRegular):
		return nil, fmt.Errorf("%w: give the path of the %s's PEM file itself", err, what)
	}
	return data, err
}
