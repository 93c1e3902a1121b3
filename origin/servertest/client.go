package servertest

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// Client is an HTTPS client for a lab server: it trusts the lab's server
// CA, sends sni, presents cert (nil: none), follows no redirect, and opens
// a new connection per request (nginx closes one after a certificate
// error, and Cloudflare would handshake again).
func Client(lab *pkitest.Lab, sni string, cert *pki.Pair) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(lab.ServerCA.Cert)
	tc := &tls.Config{
		RootCAs: roots, ServerName: sni, MinVersion: tls.VersionTLS12,
		// From GetClientCertificate, not Certificates: Go sends nothing
		// from Certificates when the cert does not chain to an announced CA
		// (docs/origin-servers.md, "Probing technique").
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			c := cert.TLSCertificate()
			return &c, nil
		},
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, ForceAttemptHTTP2: false},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// WriteFiles writes name -> content under dir (mode 0644), making the
// directories: a lab site's config, pages and snippets.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
