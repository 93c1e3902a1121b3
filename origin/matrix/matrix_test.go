package matrix

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/origin/builtin"
	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// servers are the origins the matrix starts: the real servers, and
// aopwizard's own Go origin, which must behave like them.
var servers = []render.Server{render.Nginx, render.Apache, render.HAProxy, render.Builtin}

// tlsVersions are probed on every server: rejections look different on
// each (docs/origin-servers.md, "What clients see").
var tlsVersions = []uint16{tls.VersionTLS13, tls.VersionTLS12}

// origin is a running server under test.
type origin struct {
	addr string
	// evidence is the file holding the aop1 lines: the spec's AccessLog
	// for every server (HAProxy's stdout is redirected there).
	evidence string
}

// startOrigin renders a standalone config for kind and starts it.
func startOrigin(t testing.TB, lab *pkitest.Lab, kind render.Server, phase render.Phase, mode render.Mode) origin {
	t.Helper()
	if kind != render.Builtin {
		servertest.RequireServer(t, kind)
	}
	dir := servertest.Dir(t)
	spec := render.Spec{
		ID: "matrix", Server: kind, Phase: phase, Mode: mode,
		Listen:         fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t)),
		ServerCertFile: lab.Path(pkitest.ServerCert), ServerKeyFile: lab.Path(pkitest.ServerKey),
		AccessLog: filepath.Join(dir, "access.log"), RuntimeDir: dir,
	}
	if kind == render.HAProxy {
		spec.ServerCertFile, spec.ServerKeyFile = lab.Path(pkitest.ServerBundle), ""
	}
	switch mode {
	case render.Zone:
		spec.CAFile = lab.Path(pkitest.CAAFile)
		spec.Hosts = []render.Host{{Name: "origin.example.test"}, {Name: "a.example.test"}}
	case render.Hostname:
		spec.Hosts = []render.Host{
			{Name: "a.example.test", CAFile: lab.Path(pkitest.CAAFile)},
			{Name: "b.example.test", CAFile: lab.Path(pkitest.CABFile)},
		}
	}
	out, err := render.Standalone(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(); err != nil {
		t.Fatal(err)
	}
	if kind == render.Builtin {
		return origin{addr: startBuiltin(t, out.Files[0].Path), evidence: spec.AccessLog}
	}
	// HAProxy logs to stdout: run it as the standalone config's start
	// command says, with stdout going to the spec's evidence log.
	run := servertest.Start(t, kind, out.Files[0].Path, servertest.Stdout(spec.AccessLog))
	if kind == render.HAProxy {
		// An alert at start means the standalone config and its start
		// command disagree (e.g. a pid file named twice).
		if tail := run.ErrorTail(); strings.Contains(tail, "[ALERT]") {
			t.Errorf("haproxy alerts at start:\n%s", tail)
		}
	}
	return origin{addr: run.Addr, evidence: spec.AccessLog}
}

// startBuiltin runs the builtin origin in-process from its rendered
// config until the test ends.
func startBuiltin(t testing.TB, configPath string) string {
	t.Helper()
	cfg, err := builtin.Load(configPath)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := builtin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var serveErr error
	go func() {
		defer close(done)
		serveErr = srv.ListenAndServe(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if serveErr != nil {
			t.Errorf("builtin origin: %v", serveErr)
		}
	})
	select {
	case <-srv.Ready():
	case <-done:
		t.Fatalf("builtin origin did not start: %v", serveErr)
	}
	return srv.Addr()
}

func serverCAs(lab *pkitest.Lab) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(lab.ServerCA.Cert)
	return pool
}

// labCases are the four standard cases with the lab's certificates: the
// wrong-CA certificate is client B (CA B), as measured in
// docs/origin-servers.md, "What clients see".
func labCases(lab *pkitest.Lab) []probe.Case {
	b := lab.ClientB.TLSCertificate()
	exp := lab.ClientAExpired.TLSCertificate()
	return []probe.Case{
		probe.NoCert(),
		probe.RightCert(lab.ClientA.TLSCertificate()),
		{Kind: probe.KindWrongCA, Cert: &b},
		{Kind: probe.KindExpired, Cert: &exp},
	}
}

// outcome is the expected Result.String() per case kind.
type outcome map[probe.Kind]string

const (
	ok200        = "accepted (HTTP 200)"
	nginxNoCert  = "rejected at HTTP (400 No required SSL certificate was sent)"
	nginxBadCert = "rejected at HTTP (400 The SSL certificate error)"
	alertExpired = "rejected at TLS (alert: certificate expired)"
	alertUnknown = "rejected at TLS (alert: unknown ca)"
)

var allAccepted = outcome{probe.KindNoCert: ok200, probe.KindRight: ok200, probe.KindWrongCA: ok200, probe.KindExpired: ok200}

// tlsRejections are Apache's and HAProxy's enforce-phase alerts: no
// certificate is "certificate required" (116) on TLS 1.3 but "handshake
// failure" (40) on TLS 1.2.
func tlsRejections(version uint16) outcome {
	none := "rejected at TLS (alert: certificate required)"
	if version == tls.VersionTLS12 {
		none = "rejected at TLS (alert: handshake failure)"
	}
	return outcome{probe.KindNoCert: none, probe.KindRight: ok200, probe.KindWrongCA: alertUnknown, probe.KindExpired: alertExpired}
}

// expected is the measured matrix of docs/origin-servers.md, "What clients
// see".
func expected(kind render.Server, phase render.Phase, version uint16) outcome {
	switch {
	case phase == render.Soft && kind == render.Apache:
		// Apache's optional_no_ca is not fully soft: an expired client
		// certificate still fails the handshake with alert 45, on TLS 1.3
		// and 1.2 (measured; docs/origin-servers.md, "Soft phase on Apache").
		// The renderer's notes say
		// so and the wizard checks the leaf's validity before this phase.
		o := maps.Clone(allAccepted)
		o[probe.KindExpired] = alertExpired
		return o
	case phase == render.Soft:
		return allAccepted
	case kind == render.Nginx:
		// nginx completes the handshake and rejects at HTTP, on both versions.
		return outcome{probe.KindNoCert: nginxNoCert, probe.KindRight: ok200, probe.KindWrongCA: nginxBadCert, probe.KindExpired: nginxBadCert}
	}
	return tlsRejections(version)
}

// counts is what the evidence log must show for a hostname.
type counts struct {
	success, none int
	failed        map[string]int // reason -> count
}

// generous is how origin/evidence reports Apache's GENEROUS.
const generous = "GENEROUS (certificate not verified: unknown CA accepted by optional_no_ca)"

// add tallies one request that reached HTTP. The wrong-CA reason is
// "unable to verify the first certificate" everywhere except Apache's
// optional_no_ca on TLS 1.2, which logs GENEROUS (measured here; see
// docs/origin-servers.md, "Soft phase on Apache": TLS 1.3, the version curl
// negotiates, logs the reason instead).
func (c *counts) add(server render.Server, version uint16, kind probe.Kind) {
	switch kind {
	case probe.KindNoCert:
		c.none++
	case probe.KindRight:
		c.success++
	case probe.KindWrongCA:
		if server == render.Apache && version == tls.VersionTLS12 {
			c.fail(generous)
			return
		}
		c.fail("unable to verify the first certificate")
	case probe.KindExpired:
		c.fail("certificate has expired")
	}
}

func (c *counts) fail(reason string) {
	if c.failed == nil {
		c.failed = map[string]int{}
	}
	c.failed[reason]++
}

func (c counts) check(h evidence.HostStats) error {
	failed := 0
	for _, n := range c.failed {
		failed += n
	}
	if h.Success != c.success || h.None != c.none || h.Failed != failed || !maps.Equal(h.FailedReasons, c.failed) {
		return fmt.Errorf("%s: got %s, reasons %v; want %d SUCCESS, %d NONE, %d FAILED, reasons %v",
			h.Hostname, h, h.FailedReasons, c.success, c.none, failed, c.failed)
	}
	return nil
}

// waitEvidence polls the evidence log of hosts until check accepts the
// report: servers write the line after the response.
func waitEvidence(t *testing.T, path string, hosts []string, check func(*evidence.Report) error) {
	t.Helper()
	servertest.Eventually(t, "evidence log "+path, func() error {
		rep, err := evidence.ReadFiles(context.Background(), []string{path}, evidence.Options{Hostnames: hosts})
		if err != nil {
			return err
		}
		return check(rep)
	})
}

// exactly checks that every hostname in want shows exactly its counts.
func exactly(want map[string]*counts) func(*evidence.Report) error {
	return func(rep *evidence.Report) error {
		var errs []string
		for _, h := range slices.Sorted(maps.Keys(want)) {
			if err := want[h].check(rep.Host(h)); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "; "))
		}
		return nil
	}
}

// forEachServer runs fn for every real server (in parallel: one server per
// core) and, one after the other, both phases.
func forEachServer(t *testing.T, fn func(t *testing.T, kind render.Server, phase render.Phase)) {
	for _, kind := range servers {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			for _, phase := range []render.Phase{render.Soft, render.Enforce} {
				t.Run(string(phase), func(t *testing.T) { fn(t, kind, phase) })
			}
		})
	}
}

const caAName = "CN=Lab AOP CA A,O=Lab"
const caBName = "CN=Lab AOP CA B,O=Lab"

// TestProbeEvidenceMatrix is the core proof: for each real server, the soft phase lets
// every client through and logs the verification result, and the enforce
// phase refuses all but the right certificate, each the way the probe
// classifies it.
func TestProbeEvidenceMatrix(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	cases := labCases(lab)
	const host = "a.example.test"
	forEachServer(t, func(t *testing.T, kind render.Server, phase render.Phase) {
		o := startOrigin(t, lab, kind, phase, render.Zone)
		want := map[string]*counts{host: {}}
		for _, v := range tlsVersions {
			tg := probe.Target{Addr: o.addr, SNI: host, RootCAs: serverCAs(lab), MaxVersion: v}
			results, err := probe.Run(context.Background(), []probe.Target{tg}, cases, probe.RunOptions{Concurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				checkResult(t, r, expected(kind, phase, v), v, caAName)
				if r.Class == probe.Accepted {
					want[host].add(kind, v, r.Kind)
				}
			}
		}
		if phase == render.Soft {
			waitEvidence(t, o.evidence, []string{host}, exactly(want))
			return
		}
		// Enforce: only the right certificate got through, and it logged
		// SUCCESS. nginx logs its 400s too, so count just the successes.
		waitEvidence(t, o.evidence, []string{host}, func(rep *evidence.Report) error {
			if h := rep.Host(host); h.Success != len(tlsVersions) {
				return fmt.Errorf("%s: got %s, want %d SUCCESS", host, h, len(tlsVersions))
			}
			return nil
		})
	})
}

func checkResult(t *testing.T, r probe.Result, want outcome, version uint16, caName string) {
	t.Helper()
	if got := r.String(); got != want[r.Kind] {
		t.Errorf("%s %s: got %q (%s), want %q", tls.VersionName(version), r.Case, got, r.Detail, want[r.Kind])
	}
	if r.ServerCertError != "" {
		t.Errorf("%s %s: server certificate reported bad: %s", tls.VersionName(version), r.Case, r.ServerCertError)
	}
	if !slices.Equal(r.AcceptableCAs, []string{caName}) {
		t.Errorf("%s %s: announced CAs %q, want [%s]", tls.VersionName(version), r.Case, r.AcceptableCAs, caName)
	}
	wantOurs := r.Kind == probe.KindRight || r.Kind == probe.KindExpired
	if r.Kind != probe.KindNoCert && (r.OurCAAnnounced == nil || *r.OurCAAnnounced != wantOurs) {
		t.Errorf("%s %s: our CA announced = %v, want %v", tls.VersionName(version), r.Case, r.OurCAAnnounced, wantOurs)
	}
	if r.Class == probe.Accepted || r.Class == probe.RejectedHTTP {
		if wantVer := tls.VersionName(version); r.TLSVersion != wantVer {
			t.Errorf("%s %s: negotiated %s", wantVer, r.Case, r.TLSVersion)
		}
	}
}

// hostCase is one probe of the per-hostname matrix.
type hostCase struct {
	name      string
	sni, host string
	cert      *tls.Certificate
	kind      probe.Kind // for the evidence tally
	accepted  bool       // in the enforce phase; soft accepts all but misdirected
	// misdirected: SNI and Host name different hostnames, so the origin
	// must answer 421 instead of letting one host borrow the other's CA.
	misdirected bool
}

// TestProbePerHostname runs two hostnames with different CAs on one server:
// each accepts only its own CA's certificate, announces only its own CA,
// and an SNI/Host mismatch is refused with 421 (docs/origin-servers.md,
// "Per-hostname CAs and the 421 check").
func TestProbePerHostname(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	a, b := lab.ClientA.TLSCertificate(), lab.ClientB.TLSCertificate()
	const ha, hb = "a.example.test", "b.example.test"
	cases := []hostCase{
		{name: "a with A", sni: ha, host: ha, cert: &a, kind: probe.KindRight, accepted: true},
		{name: "a with B", sni: ha, host: ha, cert: &b, kind: probe.KindWrongCA},
		{name: "a without cert", sni: ha, host: ha, kind: probe.KindNoCert},
		{name: "b with B", sni: hb, host: hb, cert: &b, kind: probe.KindRight, accepted: true},
		{name: "b with A", sni: hb, host: hb, cert: &a, kind: probe.KindWrongCA},
		{name: "SNI a, Host b, cert A", sni: ha, host: hb, cert: &a, kind: probe.KindRight, misdirected: true},
	}
	forEachServer(t, func(t *testing.T, kind render.Server, phase render.Phase) {
		o := startOrigin(t, lab, kind, phase, render.Hostname)
		// Each case has its own SNI and Host, so each is its own target.
		results := make([]probe.Result, len(cases))
		var wg sync.WaitGroup
		for i, c := range cases {
			tg := probe.Target{Addr: o.addr, SNI: c.sni, Host: c.host, RootCAs: serverCAs(lab)}
			wg.Go(func() {
				results[i] = probe.Probe(context.Background(), tg, probe.Case{Name: c.name, Kind: c.kind, Cert: c.cert})
			})
		}
		wg.Wait()
		want := map[string]*counts{ha: {}, hb: {}}
		for i, c := range cases {
			checkHostCase(t, kind, phase, c, results[i])
			if results[i].HTTPStatus != 0 {
				// Every request that reached HTTP is logged under its SNI.
				want[c.sni].add(kind, tls.VersionTLS13, c.kind)
			}
		}
		if phase == render.Soft {
			waitEvidence(t, o.evidence, []string{ha, hb}, exactly(want))
		}
	})
}

func checkHostCase(t *testing.T, kind render.Server, phase render.Phase, c hostCase, r probe.Result) {
	t.Helper()
	wantCA := map[string]string{"a.example.test": caAName, "b.example.test": caBName}[c.sni]
	if !slices.Equal(r.AcceptableCAs, []string{wantCA}) {
		t.Errorf("%s: announced CAs %q, want only %s (the CA of the SNI's hostname)", c.name, r.AcceptableCAs, wantCA)
	}
	switch {
	case c.misdirected:
		if r.Class != probe.RejectedHTTP || r.HTTPStatus != 421 {
			t.Errorf("%s: got %s, want rejected at HTTP (421 Misdirected Request)", c.name, r)
		}
	case phase == render.Soft || c.accepted:
		if r.Class != probe.Accepted || r.HTTPStatus != 200 {
			t.Errorf("%s: got %s (%s), want accepted (HTTP 200)", c.name, r, r.Detail)
		}
	default:
		// Each hostname rejects like a zone-mode origin with its own CA.
		if got, want := r.String(), expected(kind, phase, tls.VersionTLS13)[c.kind]; got != want {
			t.Errorf("%s: got %q (%s), want %q", c.name, got, r.Detail, want)
		}
	}
}

// TestProbeNoSNI covers clients that send no SNI to a per-hostname origin.
// The server then verifies the certificate against the CA of its first
// hostname, whatever Host the request names; in the enforce phase the
// renderer refuses such requests (nginx `if ($ssl_server_name = "")`,
// HAProxy `deny if !{ ssl_fc_has_sni }`, Apache SSLStrictSNIVHostCheck,
// the builtin origin's unknown-SNI check) so a certificate from the first
// hostname's CA cannot open the other hostnames. The soft phase adds no
// such guard: it must keep serving every request it served before.
func TestProbeNoSNI(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	a := lab.ClientA.TLSCertificate()
	cases := []hostCase{
		{name: "no SNI, Host a, cert A", host: "a.example.test", cert: &a, kind: probe.KindRight},
		{name: "no SNI, Host b, cert A (borrowing a's CA)", host: "b.example.test", cert: &a, kind: probe.KindRight},
	}
	forEachServer(t, func(t *testing.T, kind render.Server, phase render.Phase) {
		o := startOrigin(t, lab, kind, phase, render.Hostname)
		results := make([]probe.Result, len(cases))
		var wg sync.WaitGroup
		for i, c := range cases {
			tg := probe.Target{Addr: o.addr, Host: c.host, RootCAs: serverCAs(lab)}
			wg.Go(func() {
				results[i] = probe.Probe(context.Background(), tg, probe.Case{Name: c.name, Kind: c.kind, Cert: c.cert})
			})
		}
		wg.Wait()
		for i, c := range cases {
			r := results[i]
			if r.SNI != "" {
				t.Fatalf("%s: the probe sent SNI %q", c.name, r.SNI)
			}
			if got, want := r.String(), noSNIOutcome(kind, phase, c.host); got != want {
				t.Errorf("%s: got %q (%s), want %q", c.name, got, r.Detail, want)
			}
			// Without SNI the first hostname's CA verifies the certificate.
			if !slices.Equal(r.AcceptableCAs, []string{caAName}) {
				t.Errorf("%s: announced CAs %q, want [%s] (the first hostname's CA)", c.name, r.AcceptableCAs, caAName)
			}
			if r.ServerCertError != "" {
				t.Errorf("%s: server certificate reported bad: %s", c.name, r.ServerCertError)
			}
		}
	})
}

// noSNIOutcome is the measured answer to a request without SNI, for Host
// a.example.test (the first hostname) or b.example.test, carrying a
// certificate from a's CA.
func noSNIOutcome(kind render.Server, phase render.Phase, host string) string {
	switch {
	case kind == render.Apache && phase == render.Enforce:
		// SSLStrictSNIVHostCheck answers 403, whatever the Host.
		return "rejected at HTTP (403 Forbidden (a mapped client-certificate rejection, or the application's own 403: probe a path the application answers))"
	case phase == render.Enforce:
		return "rejected at HTTP (421 Misdirected Request)"
	case kind == render.Apache && host != "a.example.test":
		// Apache's own check, in both phases: the handshake was made with
		// the first vhost's client-CA settings, the Host selects a vhost
		// with other ones. The renderer's notes say so.
		return "rejected at HTTP (421 Misdirected Request)"
	}
	return ok200
}

// TestEvidenceRecordsRayAndClient: every server logs the CF-Ray header and
// the client address, which is how the verify step proves a request sent
// through Cloudflare arrived with a verified certificate, and how the
// enforce preview tells edge traffic from direct traffic. The header is
// client-supplied: a forged value must not forge the verification result.
func TestEvidenceRecordsRayAndClient(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	const host = "a.example.test"
	const ray, forged = "8f1d2c3b4a5e6f70-LHR", `x" verify=SUCCESS issuer="CN=Lab AOP CA A,O=Lab`
	for _, kind := range servers {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			o := startOrigin(t, lab, kind, render.Soft, render.Zone)
			right := lab.ClientA.TLSCertificate()
			send(t, o.addr, host, lab, &right, ray)
			send(t, o.addr, host, lab, nil, forged)
			send(t, o.addr, host, lab, nil, "")
			waitEvidence(t, o.evidence, []string{host}, func(rep *evidence.Report) error {
				if h := rep.Host(host); h.Requests != 3 {
					return fmt.Errorf("%d requests logged, want 3", h.Requests)
				}
				return nil
			})
			rep, err := evidence.ReadFiles(context.Background(), []string{o.evidence}, evidence.Options{Hostnames: []string{host}, Rays: []string{ray, forged}})
			if err != nil {
				t.Fatal(err)
			}
			seen, ok := rep.Ray(ray)
			if !ok || seen.Verify != evidence.VerifySuccess || seen.Hostname != host {
				t.Errorf("ray %s: found %v, %+v; want a SUCCESS line for %s", ray, ok, seen, host)
			}
			if s, ok := rep.Ray(forged); ok && s.Verify != evidence.VerifyNone {
				t.Errorf("a forged CF-Ray header changed the logged verification result: %+v", s)
			}
			if h := rep.Host(host); h.Success != 1 || h.None != 2 {
				t.Errorf("counts %s, want 1 SUCCESS and 2 NONE", h)
			}
			// The two requests without a certificate would be refused by
			// enforcement: one carries a CF-Ray (as if forwarded), one not.
			imp := rep.Impact
			if imp.Cloudflare != 1 || imp.Direct != 1 || len(imp.TopDirect) != 1 || imp.TopDirect[0].Client != "127.0.0.1" {
				t.Errorf("enforce impact %+v, want 1 through Cloudflare, 1 direct from 127.0.0.1", imp)
			}
		})
	}
}

// send makes one HTTPS request to addr for host, with cert (or none) and a
// CF-Ray header (none when empty), and requires an answer.
func send(t *testing.T, addr, host string, lab *pkitest.Lab, cert *tls.Certificate, ray string) {
	t.Helper()
	cfg := &tls.Config{ServerName: host, RootCAs: serverCAs(lab)}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if ray != "" {
		req.Header.Set("Cf-Ray", ray)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request with CF-Ray %q: %v", ray, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
