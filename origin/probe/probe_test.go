package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// goOrigin starts a crypto/tls HTTPS server on 127.0.0.1 in the given
// client-auth mode and TLS version and returns its address.
func goOrigin(t *testing.T, lab *pkitest.Lab, mode tls.ClientAuthType, version uint16, h http.Handler) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(lab.CAA.Cert)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{lab.Server.TLSCertificate()},
		ClientAuth:   mode,
		ClientCAs:    pool,
		MinVersion:   version,
		MaxVersion:   version,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok certs=%d\n", len(r.TLS.PeerCertificates))
		})
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: discardLog()}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

type labCases struct {
	none, right, wrong, expired Case
}

func newCases(t *testing.T, lab *pkitest.Lab) labCases {
	t.Helper()
	wrong, err := WrongCA()
	if err != nil {
		t.Fatal(err)
	}
	expired, err := Expired(lab.CAA)
	if err != nil {
		t.Fatal(err)
	}
	return labCases{none: NoCert(), right: RightCert(lab.ClientA.TLSCertificate()), wrong: wrong, expired: expired}
}

func target(lab *pkitest.Lab, addr string) Target {
	pool := x509.NewCertPool()
	pool.AddCert(lab.ServerCA.Cert)
	return Target{Addr: addr, SNI: "a.example.test", RootCAs: pool}
}

func TestProbeGoServerModes(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cs := newCases(t, lab)
	type want struct {
		class Class
		alert string
	}
	accepted := want{Accepted, ""}
	tests := []struct {
		name    string
		mode    tls.ClientAuthType
		version uint16
		want    map[Kind]want
	}{
		{"require TLS1.3", tls.RequireAndVerifyClientCert, tls.VersionTLS13, map[Kind]want{
			KindNoCert: {RejectedTLS, "certificate required"}, KindRight: accepted,
			KindWrongCA: {RejectedTLS, "unknown ca"}, KindExpired: {RejectedTLS, "certificate expired"},
		}},
		{"require TLS1.2", tls.RequireAndVerifyClientCert, tls.VersionTLS12, map[Kind]want{
			KindNoCert: {RejectedTLS, "handshake failure"}, KindRight: accepted,
			KindWrongCA: {RejectedTLS, "unknown ca"}, KindExpired: {RejectedTLS, "certificate expired"},
		}},
		{"request TLS1.3", tls.RequestClientCert, tls.VersionTLS13, map[Kind]want{
			KindNoCert: accepted, KindRight: accepted, KindWrongCA: accepted, KindExpired: accepted,
		}},
		{"request TLS1.2", tls.RequestClientCert, tls.VersionTLS12, map[Kind]want{
			KindNoCert: accepted, KindRight: accepted, KindWrongCA: accepted, KindExpired: accepted,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := goOrigin(t, lab, tc.mode, tc.version, nil)
			results, err := Run(context.Background(), []Target{target(lab, addr)}, []Case{cs.none, cs.right, cs.wrong, cs.expired}, RunOptions{Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 4 {
				t.Fatalf("got %d results, want 4", len(results))
			}
			for _, r := range results {
				w := tc.want[r.Kind]
				if r.Class != w.class || r.Alert != w.alert {
					t.Errorf("%s: got %s (%s), want class %s alert %q", r.Case, r, r.Detail, w.class, w.alert)
				}
				if r.Class == Accepted && r.HTTPStatus != http.StatusOK {
					t.Errorf("%s: HTTP %d, want 200", r.Case, r.HTTPStatus)
				}
				if r.ServerCertError != "" {
					t.Errorf("%s: server cert error %q for a valid server cert", r.Case, r.ServerCertError)
				}
				if !r.CertRequested {
					t.Errorf("%s: origin asked for a certificate but the probe did not notice", r.Case)
				}
				if wantVer := tls.VersionName(tc.version); r.TLSVersion != "" && r.TLSVersion != wantVer {
					t.Errorf("%s: TLS version %s, want %s", r.Case, r.TLSVersion, wantVer)
				}
			}
		})
	}
}

func TestProbeAnnouncedCAs(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cs := newCases(t, lab)
	addr := goOrigin(t, lab, tls.VerifyClientCertIfGiven, tls.VersionTLS13, nil)
	tg := target(lab, addr)

	right := Probe(context.Background(), tg, cs.right)
	if len(right.AcceptableCAs) != 1 || right.AcceptableCAs[0] != "CN=Lab AOP CA A,O=Lab" {
		t.Fatalf("announced CAs %q, want [CN=Lab AOP CA A,O=Lab]", right.AcceptableCAs)
	}
	if right.OurCAAnnounced == nil || !*right.OurCAAnnounced {
		t.Fatalf("right cert: our CA announced = %v, want true", right.OurCAAnnounced)
	}
	wrong := Probe(context.Background(), tg, cs.wrong)
	if wrong.OurCAAnnounced == nil || *wrong.OurCAAnnounced {
		t.Fatalf("wrong-CA cert: our CA announced = %v, want false", wrong.OurCAAnnounced)
	}
	if none := Probe(context.Background(), tg, cs.none); none.OurCAAnnounced != nil || none.CertSent {
		t.Fatalf("no-cert case: announced=%v sent=%v, want nil and false", none.OurCAAnnounced, none.CertSent)
	}
}

func TestProbeEmptyCAListIsInconclusiveNotFailure(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	// RequestClientCert without ClientCAs announces no names, as Envoy may.
	cfg := &tls.Config{Certificates: []tls.Certificate{lab.Server.TLSCertificate()}, ClientAuth: tls.RequestClientCert}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), ErrorLog: discardLog()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	r := Probe(context.Background(), target(lab, ln.Addr().String()), RightCert(lab.ClientA.TLSCertificate()))
	if r.Class != Accepted || r.OurCAAnnounced != nil || len(r.AcceptableCAs) != 0 || !r.CertSent {
		t.Fatalf("got %s announced=%v cas=%q sent=%v; want accepted, nil, none, sent", r, r.OurCAAnnounced, r.AcceptableCAs, r.CertSent)
	}
}

// nginxLike answers like nginx in the enforce phase: handshake accepted,
// then HTTP 400 with nginx's error page.
func nginxLike(w http.ResponseWriter, r *http.Request) {
	switch {
	case len(r.TLS.PeerCertificates) == 0:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n</html>\r\n")
	case len(r.TLS.VerifiedChains) == 0:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "<html>\r\n<head><title>400 The SSL certificate error</title></head>\r\n</html>\r\n")
	default:
		fmt.Fprintln(w, "ok")
	}
}

func TestProbeHTTP400LikeNginx(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cs := newCases(t, lab)
	// nginx verifies after the handshake and answers 400: model it with
	// RequestClientCert plus verification in the handler.
	addr := goOrigin(t, lab, tls.RequestClientCert, tls.VersionTLS13, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			pool := x509.NewCertPool()
			pool.AddCert(lab.CAA.Cert)
			chains, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err == nil {
				r.TLS.VerifiedChains = chains
			}
		}
		nginxLike(w, r)
	}))
	tg := target(lab, addr)
	for _, tc := range []struct {
		c    Case
		want string
	}{
		{cs.none, "rejected at HTTP (400 No required SSL certificate was sent)"},
		{cs.wrong, "rejected at HTTP (400 The SSL certificate error)"},
		{cs.expired, "rejected at HTTP (400 The SSL certificate error)"},
		{cs.right, "accepted (HTTP 200)"},
	} {
		if got := Probe(context.Background(), tg, tc.c).String(); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.c.Kind, got, tc.want)
		}
	}
}

// rawOrigin accepts TLS 1.3 connections that ask for a client certificate
// and hands each completed handshake to serve, which owns the connection.
func rawOrigin(t *testing.T, lab *pkitest.Lab, serve func(c net.Conn, tc *tls.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{Certificates: []tls.Certificate{lab.Server.TLSCertificate()}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, cfg)
			if tc.Handshake() == nil {
				serve(c, tc)
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// resetOrigin completes the handshake, then resets the connection without
// an alert.
func resetOrigin(t *testing.T, lab *pkitest.Lab) string {
	return rawOrigin(t, lab, func(c net.Conn, _ *tls.Conn) {
		_ = c.(*net.TCPConn).SetLinger(0) // close with RST
	})
}

func TestProbeReset(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	r := Probe(context.Background(), target(lab, resetOrigin(t, lab)), NoCert())
	if r.Class != RejectedTLS || r.Alert != "reset" || r.String() != "rejected at TLS (reset)" {
		t.Fatalf("got %s (%s), want rejected at TLS (reset)", r, r.Detail)
	}
}

// eagerOrigin completes the handshake, then answers at once, before the
// request arrives.
func eagerOrigin(t *testing.T, lab *pkitest.Lab) string {
	return rawOrigin(t, lab, func(_ net.Conn, tc *tls.Conn) {
		_, _ = io.WriteString(tc, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
		_, _ = io.Copy(io.Discard, tc) // read the request, then close
	})
}

// The TLS 1.3 alert peek must not eat the first byte of an answer that
// arrives before the request: the response is still classified.
func TestProbeKeepsDataSentBeforeTheRequest(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	r := Probe(context.Background(), target(lab, eagerOrigin(t, lab)), NoCert())
	if r.String() != "accepted (HTTP 200)" {
		t.Fatalf("got %s (%s), want accepted (HTTP 200)", r, r.Detail)
	}
}

func TestProbeUnreachableRefused(t *testing.T) {
	t.Parallel()
	addr := pkitest.RefusedAddr(t)
	r := Probe(context.Background(), Target{Addr: addr, SNI: "a.example.test"}, NoCert())
	if r.Class != Unreachable || r.Reason != "refused" || r.String() != "unreachable (refused)" {
		t.Fatalf("got %s (%s), want unreachable (refused)", r, r.Detail)
	}
}

func TestProbeClassifyDialError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "origin.invalid", IsNotFound: true}}, "DNS"},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, "refused"},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), "timeout"},
		{&net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, "unreachable"},
	} {
		var r Result
		classifyDialError(ctx, &r, tc.err)
		if r.Class != Unreachable || r.Reason != tc.want {
			t.Errorf("%v: got %s, want unreachable (%s)", tc.err, r, tc.want)
		}
	}
}

// silentOrigin accepts TCP and never speaks TLS.
func silentOrigin(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

func TestProbeHonoursContext(t *testing.T) {
	t.Parallel()
	addr := silentOrigin(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result)
	go func() { done <- Probe(ctx, Target{Addr: addr, SNI: "a.example.test"}, NoCert()) }()
	cancel()
	if r := <-done; r.Class != Inconclusive {
		t.Fatalf("got %s, want inconclusive after cancel", r)
	}
}

func TestProbeHandshakeTimeoutIsInconclusive(t *testing.T) {
	t.Parallel()
	addr := silentOrigin(t)
	r := Probe(context.Background(), Target{Addr: addr, SNI: "a.example.test", Timeout: 200e6}, NoCert())
	if r.Class != Inconclusive || !strings.Contains(r.Detail, "timed out") {
		t.Fatalf("got %s, want inconclusive (timed out …)", r)
	}
}

func TestProbeServerCertProblemIsSeparate(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	addr := goOrigin(t, lab, tls.RequireAndVerifyClientCert, tls.VersionTLS13, nil)
	other := pkitest.New(t) // a server CA the origin's certificate does not chain to
	pool := x509.NewCertPool()
	pool.AddCert(other.ServerCA.Cert)
	tg := Target{Addr: addr, SNI: "a.example.test", RootCAs: pool}

	r := Probe(context.Background(), tg, RightCert(lab.ClientA.TLSCertificate()))
	if r.Class != Accepted || !strings.Contains(r.ServerCertError, "unknown authority") {
		t.Fatalf("got %s with server cert error %q; want accepted and an unknown-authority server cert error", r, r.ServerCertError)
	}
	tg.RootCAs = x509.NewCertPool()
	tg.RootCAs.AddCert(lab.ServerCA.Cert)
	tg.SNI = "not-in-the-cert.example.test"
	r = Probe(context.Background(), tg, NoCert())
	if r.Class != RejectedTLS || !strings.Contains(r.ServerCertError, "not-in-the-cert.example.test") {
		t.Fatalf("got %s with server cert error %q; want rejected at TLS and a name mismatch", r, r.ServerCertError)
	}
}

func TestProbeHTTPStatuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		class  Class
	}{
		{200, "ok", Accepted},
		{302, "", Accepted},
		{404, "not found", Accepted},
		{502, "bad gateway", Accepted},
		{400, "<title>400 No required SSL certificate was sent</title>", RejectedHTTP},
		{400, "<title>400 The SSL certificate error</title>", RejectedHTTP},
		{495, "", RejectedHTTP},
		{496, "", RejectedHTTP},
		{421, "Misdirected", RejectedHTTP},
		{403, "", RejectedHTTP},
	} {
		if got, _ := classifyHTTP(tc.status, []byte(tc.body)); got != tc.class {
			t.Errorf("HTTP %d %q: got %s, want %s", tc.status, tc.body, got, tc.class)
		}
	}
}

func TestProbeRemoteAlertFromString(t *testing.T) {
	t.Parallel()
	// A wrapped alert whose dynamic type is not crypto/tls's uint8 is still
	// recognised by its text.
	err := &net.OpError{Op: "remote error", Err: errors.New("tls: unknown certificate authority")}
	if code, ok := remoteAlert(fmt.Errorf("read: %w", err)); !ok || code != 48 {
		t.Fatalf("got %d %v, want 48 true", code, ok)
	}
	if _, ok := remoteAlert(io.EOF); ok {
		t.Fatal("EOF taken for an alert")
	}
}

func TestProbeExpect(t *testing.T) {
	t.Parallel()
	acc := Result{Class: Accepted, HTTPStatus: 200}
	atTLS := Result{Class: RejectedTLS, Alert: "unknown ca"}
	atHTTP := Result{Class: RejectedHTTP, HTTPStatus: 400}
	with := func(r Result, k Kind) Result { r.Kind, r.Case = k, string(k); return r }
	for _, tc := range []struct {
		phase Phase
		r     Result
		ok    bool
	}{
		{Soft, with(acc, KindNoCert), true},
		{Soft, with(acc, KindWrongCA), true},
		{Soft, with(atTLS, KindExpired), false},
		{Enforce, with(acc, KindRight), true},
		{Enforce, with(atHTTP, KindRight), false},
		{Enforce, with(atHTTP, KindNoCert), true},
		{Enforce, with(atTLS, KindWrongCA), true},
		{Enforce, with(acc, KindExpired), false},
		{Enforce, with(Result{Class: Unreachable, Reason: "refused"}, KindNoCert), false},
		{Enforce, with(Result{Class: Inconclusive}, KindRight), false},
	} {
		ok, why := Expect(tc.phase, tc.r)
		if ok != tc.ok || (!ok && why == "") {
			t.Errorf("%s %s %s: got %v %q, want %v", tc.phase, tc.r.Kind, tc.r, ok, why, tc.ok)
		}
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
