// Package pkitest builds the lab PKI the tests of every package share: a
// server CA and origin certificate, two AOP CAs (A for zone-level style, B
// for per-hostname style), their client certificates, and an expired client
// certificate from CA A. It mirrors docs/origin-servers.md, "Lab PKI", but
// is made in Go.
package pkitest

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
)

// Lab is a set of certificates, also written as PEM files under Dir.
type Lab struct {
	Dir string

	ServerCA, Server       *pki.Pair // origin's TLS server certificate and its CA
	CAA, CAB               *pki.Pair // AOP CAs
	ClientA, ClientB       *pki.Pair // client certificates issued by CAA / CAB
	ClientAExpired         *pki.Pair // issued by CAA, expired a year ago
	ClientAExpiredNotAfter time.Time
}

// Hostnames the server certificate is valid for.
var Hostnames = []string{"origin.example.test", "a.example.test", "b.example.test", "localhost"}

// Files of the lab, relative to Dir. Keys are "<name>.key", certificates
// "<name>.pem"; "srv-combined.pem" is cert+key for HAProxy.
const (
	ServerCAFile = "srv-ca.pem"
	ServerCert   = "srv.pem"
	ServerKey    = "srv.key"
	ServerBundle = "srv-combined.pem"
	CAAFile      = "caA.pem"
	CABFile      = "caB.pem"
)

// New makes a fresh lab in a directory readable by unprivileged server
// workers (nginx runs them as nobody, Apache as www-data). ECDSA P-256 keeps
// it fast.
func New(t testing.TB) *Lab {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &Lab{Dir: dir}
	must := func(p *pki.Pair, err error) *pki.Pair {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	kt := pki.ECDSAP256
	l.ServerCA = must(pki.NewCA(pki.CAOptions{CommonName: "Lab Server CA", KeyType: kt, Days: 30}))
	l.Server = must(pki.IssueServer(l.ServerCA, pki.ServerOptions{
		CommonName: "origin.example.test", DNSNames: Hostnames,
		IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, KeyType: kt, Days: 30,
	}))
	l.CAA = must(pki.NewCA(pki.CAOptions{CommonName: "Lab AOP CA A", Organization: "Lab", KeyType: kt, Days: 30}))
	l.CAB = must(pki.NewCA(pki.CAOptions{CommonName: "Lab AOP CA B", Organization: "Lab", KeyType: kt, Days: 30}))
	l.ClientA = must(pki.IssueClient(l.CAA, pki.ClientOptions{CommonName: "client-A", KeyType: kt, Days: 30}))
	l.ClientB = must(pki.IssueClient(l.CAB, pki.ClientOptions{CommonName: "client-B", KeyType: kt, Days: 30}))
	l.ClientAExpiredNotAfter = time.Now().Add(-365 * 24 * time.Hour).Truncate(time.Second)
	l.ClientAExpired = must(pki.IssueClient(l.CAA, pki.ClientOptions{
		CommonName: "client-A-expired", KeyType: kt,
		NotBefore: l.ClientAExpiredNotAfter.Add(-30 * 24 * time.Hour), NotAfter: l.ClientAExpiredNotAfter,
	}))

	l.write(t, "srv-ca", l.ServerCA)
	l.write(t, "srv", l.Server)
	l.write(t, "caA", l.CAA)
	l.write(t, "caB", l.CAB)
	l.write(t, "clientA", l.ClientA)
	l.write(t, "clientB", l.ClientB)
	l.write(t, "clientAexp", l.ClientAExpired)
	key, _ := l.Server.KeyPEM()
	writeFile(t, filepath.Join(dir, ServerBundle), append(l.Server.CertPEM(), key...))
	return l
}

// Path returns the absolute path of a lab file.
func (l *Lab) Path(name string) string { return filepath.Join(l.Dir, name) }

func (l *Lab) write(t testing.TB, name string, p *pki.Pair) {
	t.Helper()
	key, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(l.Dir, name+".pem"), p.CertPEM())
	writeFile(t, filepath.Join(l.Dir, name+".key"), key)
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	// 0644 on purpose: server workers in tests run unprivileged. Real key
	// files are written 0600 by pki.WriteFiles.
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ServerFor issues another origin certificate from the lab's server CA for
// names (e.g. a zone apex the default one lacks), writes it as
// "<name>.pem"/"<name>.key" and returns the two paths.
func (l *Lab) ServerFor(t testing.TB, name string, names ...string) (certPath, keyPath string) {
	t.Helper()
	p, err := pki.IssueServer(l.ServerCA, pki.ServerOptions{CommonName: names[0], DNSNames: names, KeyType: pki.ECDSAP256, Days: 30})
	if err != nil {
		t.Fatal(err)
	}
	l.write(t, name, p)
	return filepath.Join(l.Dir, name+".pem"), filepath.Join(l.Dir, name+".key")
}
