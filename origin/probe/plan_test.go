package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// Issue 7: on TLS 1.3 every probe waited a fixed AlertWait for an alert
// that accepting origins and nginx-like ones never send. With a wait far
// beyond the probe's own time limit, such probes must still answer.
func TestProbeDoesNotWaitForAnAlertThatDoesNotCome(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cs := newCases(t, lab)
	addr := goOrigin(t, lab, tls.RequestClientCert, tls.VersionTLS13, http.HandlerFunc(nginxLike))
	tg := target(lab, addr)
	tg.AlertWait, tg.Timeout = time.Hour, 30*time.Second
	for c, want := range map[*Case]string{
		&cs.none:  "rejected at HTTP (400 No required SSL certificate was sent)",
		&cs.right: "rejected at HTTP (400 The SSL certificate error)", // nginxLike sees no verified chain
	} {
		if got := Probe(context.Background(), tg, *c); got.String() != want {
			t.Errorf("%s: got %s (%s), want %s", c.Kind, got, got.Detail, want)
		}
	}
}

// lossyOrigin rejects connections without a certificate like a Go server
// (alert "certificate required"), except the first, which it resets
// without an alert: the alert lost in a TCP reset.
func lossyOrigin(t *testing.T, lab *pkitest.Lab) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(lab.CAA.Cert)
	strict := &tls.Config{Certificates: []tls.Certificate{lab.Server.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS13}
	lax := strict.Clone()
	lax.ClientAuth = tls.RequestClientCert
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) == 1 {
				if tls.Server(c, lax).Handshake() == nil {
					_ = c.(*net.TCPConn).SetLinger(0)
				}
			} else {
				_ = tls.Server(c, strict).Handshake()
			}
			c.Close()
		}
	}()
	return ln.Addr().String(), &conns
}

func TestProbeAsksAgainWhenAResetHidTheAlert(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	addr, conns := lossyOrigin(t, lab)
	r := Probe(context.Background(), target(lab, addr), NoCert())
	if r.String() != "rejected at TLS (alert: certificate required)" || conns.Load() != 2 {
		t.Fatalf("got %s (%s) after %d connections, want rejected at TLS (alert: certificate required) after 2", r, r.Detail, conns.Load())
	}
}

func TestRunReportsEachResult(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cs := newCases(t, lab)
	a := goOrigin(t, lab, tls.RequireAndVerifyClientCert, tls.VersionTLS13, nil)
	b := goOrigin(t, lab, tls.RequestClientCert, tls.VersionTLS12, nil)
	targets := []Target{target(lab, a), target(lab, b)}
	cases := []Case{cs.none, cs.right, cs.wrong}
	var seen []int
	got := make([]Result, len(targets)*len(cases))
	results, err := Run(context.Background(), targets, cases, RunOptions{Concurrency: 3, OnResult: func(i int, r Result) {
		seen = append(seen, i) // calls never overlap: -race checks it
		got[i] = r
	}})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("OnResult saw indices %v, want each of 0-5 once", seen)
	}
	for i, r := range results {
		if got[i].String() != r.String() || got[i].Case != r.Case || got[i].Addr != r.Addr {
			t.Errorf("result %d: OnResult got %s %s, Run returned %s %s", i, got[i].Addr, got[i], r.Addr, r)
		}
	}
	if results[0].Addr != a || results[3].Addr != b || results[1].Kind != KindRight {
		t.Errorf("results not in target-major order: %v %v %v", results[0].Addr, results[3].Addr, results[1].Kind)
	}
}

func TestStandardCases(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	right := lab.ClientA.TLSCertificate()
	kinds := func(cs []Case) []Kind {
		var ks []Kind
		for _, c := range cs {
			ks = append(ks, c.Kind)
		}
		return ks
	}
	for _, tc := range []struct {
		o    CaseOptions
		want []Kind
	}{
		{CaseOptions{}, []Kind{KindNoCert, KindWrongCA}},
		{CaseOptions{NoWrongCA: true}, []Kind{KindNoCert}},
		{CaseOptions{Right: &right, CA: lab.CAA}, []Kind{KindNoCert, KindRight, KindWrongCA, KindExpired}},
		{CaseOptions{Right: &right, CA: lab.CAA, NoWrongCA: true}, []Kind{KindNoCert, KindRight, KindExpired}},
	} {
		cs, err := StandardCases(tc.o)
		if err != nil || !slices.Equal(kinds(cs), tc.want) {
			t.Errorf("%+v: got %v, %v; want %v", tc.o, kinds(cs), err, tc.want)
		}
	}
	cs, err := StandardCases(CaseOptions{Right: &right, CA: lab.CAA})
	if err != nil {
		t.Fatal(err)
	}
	exp, err := x509.ParseCertificate(cs[3].Cert.Certificate[0])
	if err != nil || !exp.NotAfter.Before(time.Now()) || exp.CheckSignatureFrom(lab.CAA.Cert) != nil {
		t.Fatalf("expired case: %v; want a certificate from CA A that has expired", err)
	}
}

func TestLoadCertificates(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	if _, err := LoadClientCert(lab.Path("clientA.pem"), lab.Path("clientA.key")); err != nil {
		t.Fatal(err)
	}
	if ca, err := LoadCA(lab.Path("caA.pem"), lab.Path("caA.key")); err != nil || !ca.Cert.IsCA {
		t.Fatalf("LoadCA: %v", err)
	}
	for _, tc := range []struct {
		err   error
		input Input
		want  string
	}{
		{errOf(LoadClientCert(lab.Path("clientA.pem"), lab.Path("clientB.key"))), InputClientCert, "the key belongs to the certificate"},
		{errOf(LoadCA(lab.Path("clientA.pem"), lab.Path("clientA.key"))), InputCA, "is not a CA certificate"},
		{errOf(LoadCA(lab.Path("caA.pem"), lab.Path("caB.key"))), InputCA, "the key belongs to the CA"},
	} {
		var ie *InputError
		if !errors.As(tc.err, &ie) || ie.Input != tc.input || !strings.Contains(tc.err.Error(), tc.want) || strings.Contains(tc.err.Error(), "--") {
			t.Errorf("got %v; want a %s InputError saying %q and naming no flag", tc.err, tc.input, tc.want)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestJudge(t *testing.T) {
	t.Parallel()
	res := func(k Kind, c Class) Result { return Result{Kind: k, Case: string(k), Class: c, HTTPStatus: 200} }
	enforced := []Result{res(KindNoCert, RejectedTLS), res(KindRight, Accepted), res(KindWrongCA, RejectedHTTP), res(KindExpired, RejectedTLS)}
	for _, tc := range []struct {
		results []Result
		phase   Phase
		failed  int
		summary string
	}{
		{enforced, Enforce, 0, ""},
		{enforced, Soft, 3, "3 of 4 probes were unreachable, inconclusive or not what the soft phase requires"},
		{enforced, "", 0, ""},
		{[]Result{res(KindNoCert, Unreachable), res(KindRight, Accepted)}, "", 1, "1 of 2 probes were unreachable or inconclusive"},
		{[]Result{res(KindNoCert, Inconclusive), res(KindRight, Accepted)}, Soft, 1, "1 of 2 probes were unreachable, inconclusive or not what the soft phase requires"},
	} {
		v := Judge(tc.results, tc.phase)
		if v.Failed != tc.failed || v.OK() != (tc.failed == 0) || v.Summary() != tc.summary || len(v.Results) != len(tc.results) {
			t.Errorf("%q: failed %d ok %v summary %q; want %d, %q", tc.phase, v.Failed, v.OK(), v.Summary(), tc.failed, tc.summary)
		}
		for _, c := range v.Results {
			if (tc.phase == "") != (c.Meets == nil) {
				t.Errorf("%q %s: meets %v", tc.phase, c.Case, c.Meets)
			}
		}
	}
}

func TestParsePhaseIsRenders(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Phase{"soft": Soft, "enforce": Enforce, "Enforce": Enforce} {
		if got, err := ParsePhase(in); err != nil || got != want {
			t.Errorf("ParsePhase(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePhase("maybe"); err == nil {
		t.Error("ParsePhase accepted maybe")
	}
}
