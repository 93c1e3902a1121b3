package builtin

import (
	"context"
	"crypto/sha1" //nolint:gosec // matches the evidence format
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// start writes cfg as JSON, loads it like the CLI does and serves it on a
// free loopback port until the test ends.
func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "builtin.json")
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(loaded)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	<-srv.Ready()
	return srv, cfg.AccessLog
}

func labConfig(t *testing.T, lab *pkitest.Lab, phase, mode string) Config {
	c := Config{
		ID: "example.test", Listen: "127.0.0.1:0", Phase: phase, Mode: mode,
		CertFile: lab.Path(pkitest.ServerCert), KeyFile: lab.Path(pkitest.ServerKey),
		AccessLog: filepath.Join(t.TempDir(), "access.log"),
	}
	if mode == "hostname" {
		c.Hosts = []Host{{Name: "a.example.test", CAFile: lab.Path(pkitest.CAAFile)}, {Name: "b.example.test", CAFile: lab.Path(pkitest.CABFile)}}
	} else {
		c.CAFile = lab.Path(pkitest.CAAFile)
	}
	return c
}

type outcome struct {
	status int    // 0 when the request failed
	err    error  // TLS or transport error
	verify string // X-Client-Verify
}

// get sends one request with the given SNI, Host and client certificate
// (nil = none). The certificate is offered through GetClientCertificate so
// Go sends it even when it does not chain to an announced CA.
func get(t *testing.T, addr, sni, host string, lab *pkitest.Lab, cert *tls.Certificate) outcome {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(lab.ServerCA.Cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		ServerName: sni, RootCAs: roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if cert == nil {
				return &tls.Certificate{}, nil
			}
			return cert, nil
		},
	}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return outcome{status: resp.StatusCode, verify: resp.Header.Get("X-Client-Verify")}
}

func tlsCert(p interface{ TLSCertificate() tls.Certificate }) *tls.Certificate {
	c := p.TLSCertificate()
	return &c
}

func TestSoftAcceptsEveryCaseAndLogsTheResult(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	srv, logPath := start(t, labConfig(t, lab, "soft", "zone"))
	cases := []struct {
		name   string
		cert   *tls.Certificate
		verify string
	}{
		{"no cert", nil, "NONE"},
		{"right cert", tlsCert(lab.ClientA), "SUCCESS"},
		{"wrong CA", tlsCert(lab.ClientB), "FAILED:unable to verify the first certificate"},
		{"expired", tlsCert(lab.ClientAExpired), "FAILED:certificate has expired"},
	}
	for _, c := range cases {
		got := get(t, srv.Addr(), "a.example.test", "a.example.test", lab, c.cert)
		if got.err != nil || got.status != http.StatusOK || got.verify != c.verify {
			t.Errorf("%s: got status %d verify %q err %v, want 200 %q", c.name, got.status, got.verify, got.err, c.verify)
		}
	}
	// The evidence parser is the log's consumer: assert through it.
	lines := readLines(t, logPath, len(cases))
	for i, c := range cases {
		e, err := evidence.ParseLine(lines[i])
		if err != nil {
			t.Fatalf("%s: log line %q does not parse: %v", c.name, lines[i], err)
		}
		verify := e.Verify
		if e.Reason != "" {
			verify += ":" + e.Reason
		}
		if e.SNI != "a.example.test" || e.Host != "a.example.test" || e.Status != http.StatusOK || verify != c.verify {
			t.Errorf("%s: log line %q parsed as sni %q host %q status %d verify %q", c.name, lines[i], e.SNI, e.Host, e.Status, verify)
		}
	}
	sum := sha1Hex(lab.ClientA.Cert.Raw)
	if !strings.Contains(lines[1], "fp="+sum+" ") || !strings.Contains(lines[1], `subject="CN=client-A" issuer="CN=Lab AOP CA A,O=Lab"`) {
		t.Errorf("right-cert line %q lacks fingerprint %s or the DNs", lines[1], sum)
	}
	if !strings.Contains(lines[0], `fp=- serial=- subject="-" issuer="-"`) {
		t.Errorf("no-cert line %q does not mark the missing certificate with -", lines[0])
	}
}

func TestEnforceRejectsAllButTheRightCert(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	srv, _ := start(t, labConfig(t, lab, "enforce", "zone"))
	for name, cert := range map[string]*tls.Certificate{"no cert": nil, "wrong CA": tlsCert(lab.ClientB), "expired": tlsCert(lab.ClientAExpired)} {
		if got := get(t, srv.Addr(), "a.example.test", "a.example.test", lab, cert); got.err == nil {
			t.Errorf("%s: served with status %d, want a TLS rejection", name, got.status)
		} else if !isRemoteTLSError(got.err) {
			t.Errorf("%s: error %v is not a TLS alert from the server", name, got.err)
		}
	}
	if got := get(t, srv.Addr(), "a.example.test", "a.example.test", lab, tlsCert(lab.ClientA)); got.status != http.StatusOK || got.verify != "SUCCESS" {
		t.Errorf("right cert: %+v, want 200 SUCCESS", got)
	}
}

func TestHostnameModeUsesEachHostsCA(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	srv, _ := start(t, labConfig(t, lab, "enforce", "hostname"))
	ok := func(host string, cert *tls.Certificate) bool {
		return get(t, srv.Addr(), host, host, lab, cert).status == http.StatusOK
	}
	if !ok("a.example.test", tlsCert(lab.ClientA)) || !ok("b.example.test", tlsCert(lab.ClientB)) {
		t.Error("a host's own CA's certificate was refused")
	}
	if ok("a.example.test", tlsCert(lab.ClientB)) || ok("b.example.test", tlsCert(lab.ClientA)) {
		t.Error("a certificate from the other host's CA was accepted")
	}
}

func TestHostSNIMismatchIs421(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	for _, phase := range []string{"soft", "enforce"} {
		srv, _ := start(t, labConfig(t, lab, phase, "hostname"))
		// CA A's certificate is valid for SNI a, but the request asks for b.
		if got := get(t, srv.Addr(), "a.example.test", "b.example.test", lab, tlsCert(lab.ClientA)); got.status != http.StatusMisdirectedRequest {
			t.Errorf("%s: SNI a + Host b gave %+v, want 421", phase, got)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	c := labConfig(t, lab, "soft", "zone")
	c.CAFile = lab.Path(pkitest.ServerKey)
	if _, err := New(&c); !errors.Is(err, pki.ErrCABundle) || !strings.Contains(err.Error(), "PRIVATE KEY block") {
		t.Errorf("CA bundle without certificates: err %v", err)
	}
	// The builtin origin loads its CA bundle as the servers are given
	// one (issue 7 defects 2 and 3): a leaf is refused, /dev/zero too.
	c.CAFile = lab.Path("clientA.pem")
	if _, err := New(&c); !errors.Is(err, pki.ErrCABundle) || !strings.Contains(err.Error(), "is not a CA") {
		t.Errorf("client certificate as CA bundle: err %v", err)
	}
	c.CAFile = "/dev/zero"
	if _, err := New(&c); !errors.Is(err, pki.ErrNotRegular) {
		t.Errorf("/dev/zero as CA bundle: err %v", err)
	}
	c = labConfig(t, lab, "soft", "zone")
	c.CertFile = "/dev/zero"
	if _, err := New(&c); !errors.Is(err, pki.ErrNotRegular) {
		t.Errorf("/dev/zero as server certificate: err %v", err)
	}
	c = labConfig(t, lab, "soft", "zone")
	c = labConfig(t, lab, "strict", "zone")
	if _, err := New(&c); err == nil || !strings.Contains(err.Error(), "use soft or enforce") {
		t.Errorf("unknown phase: err %v", err)
	}
}

func isRemoteTLSError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// readLines polls for n lines: the server writes the log after the response.
func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) >= n && lines[0] != "" {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %s has %d lines, want %d:\n%s", path, len(lines), n, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func sha1Hex(der []byte) string {
	s := sha1.Sum(der) //nolint:gosec // matches the evidence format
	return hex.EncodeToString(s[:])
}

func TestListenAndServeReportsItsAddress(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cfg := labConfig(t, lab, "enforce", "global")
	srv, err := New(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	}
	if srv.Addr() == cfg.Listen || !strings.HasPrefix(srv.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want the bound 127.0.0.1 port", srv.Addr())
	}
	if got := get(t, srv.Addr(), "a.example.test", "a.example.test", lab, tlsCert(lab.ClientA)); got.status != http.StatusOK {
		t.Errorf("right cert: %+v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe after cancel: %v", err)
	}
}
