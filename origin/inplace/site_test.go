package inplace_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// answer is what a client sees for one request: the parts of a response a
// site's users rely on.
type answer struct {
	Status   int
	Body     string
	Location string
	Type     string
	Backend  string // X-Backend-Saw: what the proxied backend received
}

func (a answer) String() string {
	b := a.Body
	if len(b) > 60 {
		b = b[:60] + "…"
	}
	return fmt.Sprintf("%d type=%q location=%q backend=%q body=%q", a.Status, a.Type, a.Location, a.Backend, b)
}

// request is one request of the recorded set.
type request struct {
	Method, Path, Body string
}

// siteRequests cover the locations of the realistic site: static files,
// the index, a custom 404, an internal-only location, a proxied GET and
// POST (method, query and body must reach the backend unchanged), a
// location redirect and a server-level rewrite.
var siteRequests = []request{
	{"GET", "/", ""},
	{"GET", "/style.css", ""},
	{"GET", "/missing.html", ""},
	{"GET", "/private/secret.txt", ""},
	{"GET", "/page.BAK", ""},
	{"GET", "/api/items?q=a%20b&x=1", ""},
	{"POST", "/api/items", "name=widget&qty=2"},
	{"GET", "/go", ""},
	{"GET", "/old/page", ""},
	{"HEAD", "/", ""},
}

// backend is the small proxied application: it echoes what it received.
func backend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Backend-Saw", fmt.Sprintf("%s %s body=%s", r.Method, r.URL.RequestURI(), body))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"app\":true,\"method\":%q}\n", r.Method)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// client presents cert (nil: none) and trusts the lab's server CA. Each
// request gets a new connection: nginx closes the connection after a
// certificate error, and a new handshake is what Cloudflare would do.
func client(lab *pkitest.Lab, host string, cert *pki.Pair) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(lab.ServerCA.Cert)
	tc := &tls.Config{
		RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12,
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

func ask(c *http.Client, addr, host string, r request) (answer, error) {
	req, err := http.NewRequest(r.Method, "https://"+addr+r.Path, strings.NewReader(r.Body))
	if err != nil {
		return answer{}, err
	}
	req.Host = host
	if r.Body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, Body: string(body), Location: resp.Header.Get("Location"), Type: resp.Header.Get("Content-Type"), Backend: resp.Header.Get("X-Backend-Saw")}, nil
}

// record asks every request of the set on every address.
func record(c *http.Client, addrs []string, host string) (map[string]answer, error) {
	out := map[string]answer{}
	for _, a := range addrs {
		for _, r := range siteRequests {
			ans, err := ask(c, a, host, r)
			if err != nil {
				return nil, fmt.Errorf("%s %s on %s: %w", r.Method, r.Path, a, err)
			}
			out[a+" "+r.Method+" "+r.Path] = ans
		}
	}
	return out, nil
}

// same reports the first difference between two recordings.
func same(want, got map[string]answer) error {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if want[k] != got[k] {
			return fmt.Errorf("%s:\n  before: %s\n  now:    %s", k, want[k], got[k])
		}
	}
	return nil
}

// writeFiles writes name -> content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
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

// loopback6 reports whether ::1 can be listened on here.
func loopback6() bool {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}

type pkiPair = pki.Pair
