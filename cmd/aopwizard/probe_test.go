package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// probeTestOrigin is a Go HTTPS origin on 127.0.0.1 that requires a client
// certificate from the lab's CA A (like an enforcing Apache, in Go).
func probeTestOrigin(t *testing.T, lab *pkitest.Lab) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(lab.CAA.Cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{lab.Server.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }),
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func probeRunCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestProbeCommand(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	addr := probeTestOrigin(t, lab)
	base := []string{"probe", "--origin", addr, "--sni", "a.example.test",
		"--cert", lab.Path("clientA.pem"), "--key", lab.Path("clientA.key"),
		"--ca-cert", lab.Path("caA.pem"), "--ca-key", lab.Path("caA.key"),
		"--origin-ca", lab.Path(pkitest.ServerCAFile)}

	code, out, errs := probeRunCLI(t, append(base, "--expect", "enforce")...)
	if code != exitOK {
		t.Fatalf("exit %d, want 0; stdout:\n%s\nstderr: %s", code, out, errs)
	}
	for _, want := range []string{
		"no-cert     ✓ rejected at TLS (alert: certificate required)",
		"right-cert  ✓ accepted (HTTP 200)",
		"wrong-ca    ✓ rejected at TLS (alert: unknown ca)",
		"expired     ✓ rejected at TLS (alert: certificate expired)",
		"announces client CAs: CN=Lab AOP CA A,O=Lab",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, "PRIVATE KEY") {
		t.Fatal("a private key reached the output")
	}

	// The same origin is not in a soft phase: --expect soft fails.
	if code, out, errs := probeRunCLI(t, append(base, "--expect", "soft")...); code != exitFailure || !strings.Contains(errs, "3 of 4 probes") {
		t.Fatalf("--expect soft: exit %d, stderr %q; want 1 and 3 of 4 probes failing\n%s", code, errs, out)
	}

	code, out, errs = probeRunCLI(t, append(base, "--json", "--tls-max", "1.2")...)
	if code != exitOK {
		t.Fatalf("--json: exit %d, stderr %s", code, errs)
	}
	var doc struct {
		Results []probe.Result `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	got := map[probe.Kind]string{}
	for _, r := range doc.Results {
		got[r.Kind] = r.String()
		if r.TLSVersion != "" && r.TLSVersion != "TLS 1.2" {
			t.Errorf("%s: negotiated %s with --tls-max 1.2", r.Case, r.TLSVersion)
		}
	}
	if got[probe.KindNoCert] != "rejected at TLS (alert: handshake failure)" || got[probe.KindRight] != "accepted (HTTP 200)" || len(got) != 4 {
		t.Fatalf("JSON results %v", got)
	}
}

func TestProbeCommandUnreachable(t *testing.T) {
	t.Parallel()
	addr := fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t)) // nothing listens there
	code, out, errs := probeRunCLI(t, "probe", "--origin", addr, "--sni", "a.example.test", "--no-wrong-ca")
	if code != exitFailure || !strings.Contains(out, "unreachable (refused)") || !strings.Contains(errs, "1 of 1 probes were unreachable or inconclusive") {
		t.Fatalf("exit %d; stdout %q; stderr %q", code, out, errs)
	}
}

func TestProbeCommandBadFlags(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"probe"}, "--origin is required"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--cert", lab.Path("clientA.pem")}, "--cert and --key go together"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--ca-key", lab.Path("caA.key")}, "--ca-cert and --ca-key go together"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--cert", lab.Path("clientA.pem"), "--key", lab.Path("clientB.key")}, "key belongs to the certificate"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--ca-cert", lab.Path("clientA.pem"), "--ca-key", lab.Path("clientA.key")}, "is not a CA certificate"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--tls-max", "1.1"}, "--tls-max \"1.1\" is not supported"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--expect", "maybe"}, "--expect"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--origin-ca", lab.Path("caA.key")}, "--origin-ca: " + lab.Path("caA.key") + ": not a certificate: the file holds a private key"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--origin-ca", "/dev/zero"}, "--origin-ca: certificate file /dev/zero: not a regular file (it is a device)"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--concurrency", "0"}, "must be positive"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--path", "healthz"}, "--path: request path \"healthz\" does not start with /"},
		// Defect 12: each of these was sent, or failed with exit 1.
		{[]string{"probe", "--origin", "127.0.0.1:0"}, "--origin: origin address \"127.0.0.1:0\" has port 0"},
		{[]string{"probe", "--origin", "127.0.0.1:70000"}, "has port 70000, outside 1-65535"},
		{[]string{"probe", "--origin", "::1:443"}, "put the address in brackets: [::1]:443"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--sni", "a b"}, "--sni: server name (SNI) \"a b\" is not a DNS name"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--host", "a\r\nX: 1"}, "--host: Host header"},
		{[]string{"probe", "--origin", "127.0.0.1:1", "--path", "/a\r\nX: 1"}, "--path: request path"},
	} {
		code, out, errs := probeRunCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.err) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, no results and %q", tc.args, code, out, errs, tc.err)
		}
	}
}
