package doctor_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/origin/builtin"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps/doctor"
)

const zoneName = "example.test"

// env is a cfsim zone with a client on it and the lab PKI.
type env struct {
	t      *testing.T
	sim    *cfsim.Sim
	c      *cfapi.SDKClient
	zoneID string
	lab    *pkitest.Lab
	now    time.Time
}

func newEnv(t *testing.T, opts cfsim.Options) *env {
	t.Helper()
	opts.Zones = []string{zoneName}
	if opts.SSLMode == "" {
		opts.SSLMode = cfapi.SSLStrict
	}
	sim := cfsim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := cfapi.New(cfapi.Config{Token: sim.Token(), BaseURL: srv.URL + "/client/v4/", HTTPClient: srv.Client(),
		Timeout: 10 * time.Second, BackoffBase: time.Millisecond, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, sim: sim, c: c, zoneID: sim.ZoneID(zoneName), lab: pkitest.New(t), now: time.Now()}
}

// leaf issues a client certificate from CA A valid until notAfter.
func (e *env) leaf(cn string, notAfter time.Time) *pki.Pair {
	e.t.Helper()
	p, err := pki.IssueClient(e.lab.CAA, pki.ClientOptions{CommonName: cn, KeyType: pki.ECDSAP256,
		NotBefore: notAfter.Add(-400 * 24 * time.Hour), NotAfter: notAfter})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) upload(level cfapi.Level, p *pki.Pair) cfapi.Certificate {
	e.t.Helper()
	key, err := p.KeyPEM()
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := e.c.UploadCertificate(context.Background(), e.zoneID, level, p.CertPEM(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) zoneLevel(p *pki.Pair) cfapi.Certificate {
	e.t.Helper()
	c := e.upload(cfapi.LevelZone, p)
	if _, err := e.c.SetZoneAOPEnabled(context.Background(), e.zoneID, true); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) alert(alertType string) {
	e.t.Helper()
	_, _, err := e.c.EnsureAlertPolicy(context.Background(), e.sim.AccountID(),
		cfapi.AlertPolicySpec{Name: "aop expiry", AlertType: alertType, Emails: []string{"ops@example.test"}})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) diagnose(in doctor.Input) *doctor.Report {
	e.t.Helper()
	in.Zone = zoneName
	if in.GlobalCA == nil {
		in.GlobalCA = e.globalCA()
	}
	d := doctor.Deps{Cloudflare: e.c}
	d.Now = func() time.Time { return e.now }
	rep, err := doctor.Diagnose(context.Background(), d, in)
	if err != nil {
		e.t.Fatalf("diagnose: %v", err)
	}
	return rep
}

func (e *env) globalCA() *x509.Certificate {
	e.t.Helper()
	certs, err := pki.ParseCertificates(e.sim.GlobalCAPEM())
	if err != nil {
		e.t.Fatal(err)
	}
	return certs[0]
}

// want asserts exactly one finding with code and subject, of severity,
// whose remedy contains remedy ("" asserts there is none) and whose action
// is action.
func wantFinding(t *testing.T, rep *doctor.Report, code, subject string, sev doctor.Severity, remedy string, action doctor.Action) doctor.Finding {
	t.Helper()
	var got []doctor.Finding
	for _, f := range rep.Find(code) {
		if subject == "" || f.Subject == subject {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("findings %s for %q: got %d, want 1; all findings:\n%s", code, subject, len(got), dump(rep))
	}
	f := got[0]
	if f.Severity != sev {
		t.Errorf("%s: severity %s, want %s (%s)", code, f.Severity, sev, f.Message)
	}
	if remedy == "" && f.Remedy != "" || !strings.Contains(f.Remedy, remedy) {
		t.Errorf("%s: remedy %q, want one containing %q", code, f.Remedy, remedy)
	}
	if f.Action != action {
		t.Errorf("%s: action %q, want %q", code, f.Action, action)
	}
	return f
}

func dump(rep *doctor.Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		b.WriteString("  " + string(f.Severity) + " " + f.Code + " [" + f.Subject + "] " + f.Message + " | " + f.Remedy + "\n")
	}
	return b.String()
}

func noProblems(t *testing.T, rep *doctor.Report, allowWarn bool) {
	t.Helper()
	for _, f := range rep.Findings {
		if f.Severity == doctor.Error || (!allowWarn && f.Severity == doctor.Warn) {
			t.Errorf("unexpected %s finding %s: %s", f.Severity, f.Code, f.Message)
		}
	}
}

// startOrigin runs the builtin origin for a.example.test trusting CA A in
// the given phase, until the test ends.
func startOrigin(t *testing.T, lab *pkitest.Lab, phase, evidenceLog string) string {
	t.Helper()
	cfg := &builtin.Config{ID: "doctor", Listen: "127.0.0.1:0", Phase: phase, Mode: "zone",
		CertFile: lab.Path(pkitest.ServerCert), KeyFile: lab.Path(pkitest.ServerKey), CAFile: lab.Path(pkitest.CAAFile),
		Hosts: []builtin.Host{{Name: "a.example.test"}}, AccessLog: evidenceLog}
	srv, err := builtin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("builtin origin: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("builtin origin did not start: %v", err)
	}
	return srv.Addr()
}

func TestHealthyZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	leaf := e.leaf(zoneName, e.now.Add(365*24*time.Hour))
	cert := e.zoneLevel(leaf)
	e.alert(cfapi.AlertZoneCertExpiry)
	addr := startOrigin(t, e.lab, "enforce", "")
	right := leaf.TLSCertificate()
	rep := e.diagnose(doctor.Input{Hostnames: []string{"a.example.test"}, Origins: []string{addr},
		ClientCert: &right, ProbeTimeout: 10 * time.Second})
	noProblems(t, rep, false)
	if rep.Problems() {
		t.Errorf("healthy zone reports problems:\n%s", dump(rep))
	}
	wantFinding(t, rep, doctor.CodeSSLModeOK, "", doctor.OK, "", "")
	wantFinding(t, rep, doctor.CodeCertOK, cert.ID, doctor.OK, "", "")
	wantFinding(t, rep, doctor.CodeAlertsOK, cfapi.AlertZoneCertExpiry, doctor.OK, "", "")
	wantFinding(t, rep, doctor.CodeOriginEnforces, "", doctor.OK, "", "")
	if len(rep.Hostnames) != 1 || rep.Hostnames[0].Level != doctor.LevelZone || rep.Hostnames[0].CertID != cert.ID {
		t.Errorf("hostnames = %+v, want a.example.test on zone-level certificate %s", rep.Hostnames, cert.ID)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("report does not marshal: %v", err)
	}
}

func TestExpiredCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	cert := e.zoneLevel(e.leaf(zoneName, e.now.Add(-24*time.Hour)))
	e.alert(cfapi.AlertZoneCertExpiry)
	rep := e.diagnose(doctor.Input{})
	f := wantFinding(t, rep, doctor.CodeCertExpired, cert.ID, doctor.Error, "issue a new client certificate", doctor.ActionNewClientCert)
	if !strings.Contains(f.Message, "no expired status") {
		t.Errorf("message %q should say the API does not report expiry", f.Message)
	}
	// Zone-level AOP is on with nothing Cloudflare can present.
	wantFinding(t, rep, doctor.CodeZoneNoActiveCert, "", doctor.Error, "upload a zone-level client certificate", doctor.ActionNewClientCert)
	if !rep.Problems() {
		t.Error("an expired certificate in use must be a problem (exit 1)")
	}
	if c := rep.Certificates[0]; c.DaysLeft >= 0 || c.Severity != doctor.Error {
		t.Errorf("certificate state %+v: want negative days left and error", c)
	}
}

func TestCertificateExpiringIn10Days(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	cert := e.zoneLevel(e.leaf(zoneName, e.now.Add(10*24*time.Hour+time.Hour)))
	e.alert(cfapi.AlertZoneCertExpiry)
	rep := e.diagnose(doctor.Input{})
	f := wantFinding(t, rep, doctor.CodeCertExpiring, cert.ID, doctor.Warn, "before it expires, issue a new client certificate", doctor.ActionNewClientCert)
	if !strings.Contains(f.Message, "in 10 days") {
		t.Errorf("message %q should say 10 days", f.Message)
	}
	if rep.Problems() {
		t.Errorf("a warning alone is not a problem (exit 0):\n%s", dump(rep))
	}
	noProblems(t, rep, true)
}

func TestAssociationToDeletedCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	cert := e.upload(cfapi.LevelHostname, e.lab.ClientB)
	if _, err := e.c.EnableHostnames(context.Background(), e.zoneID, cert.ID, []string{"b.example.test"}); err != nil {
		t.Fatal(err)
	}
	if !e.sim.DeleteCertificateOutOfBand(zoneName, cert.ID) {
		t.Fatal("certificate not found in the simulator")
	}
	rep := e.diagnose(doctor.Input{})
	wantFinding(t, rep, doctor.CodeAssocCertDeleted, "b.example.test", doctor.Error, "associate the hostname with an active hostname certificate", "")
	wantFinding(t, rep, doctor.CodeCertDeleted, cert.ID, doctor.Info, "", "")
	// Nothing else covers the hostname: Cloudflare presents nothing.
	wantFinding(t, rep, doctor.CodeHostnameNoCert, "b.example.test", doctor.Warn, "set up AOP", "")
	if h := rep.Hostnames[0]; h.Association != "broken" || h.Level != doctor.LevelNone {
		t.Errorf("hostname state %+v, want a broken association and no level", h)
	}
}

func TestSSLModeFlexible(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{SSLMode: cfapi.SSLFlexible})
	e.zoneLevel(e.lab.ClientA)
	e.alert(cfapi.AlertZoneCertExpiry)
	rep := e.diagnose(doctor.Input{})
	f := wantFinding(t, rep, doctor.CodeSSLModeNoAOP, "", doctor.Error, "Full (strict)", "")
	if !strings.Contains(f.Message, "flexible") {
		t.Errorf("message %q should name the mode", f.Message)
	}
	if rep.SSLMode != cfapi.SSLFlexible {
		t.Errorf("ssl mode %q", rep.SSLMode)
	}
}

func TestSSLModeFlexibleWithoutAOPIsAWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{SSLMode: cfapi.SSLFlexible})
	rep := e.diagnose(doctor.Input{})
	wantFinding(t, rep, doctor.CodeSSLModeNoAOP, "", doctor.Warn, "Full (strict)", "")
}

func TestGlobalAOPWithOurCAAtTheOrigin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{TLSClientAuth: "on"})
	addr := startOrigin(t, e.lab, "enforce", "")
	rep := e.diagnose(doctor.Input{Hostnames: []string{"a.example.test"}, Origins: []string{addr}, ProbeTimeout: 10 * time.Second})
	f := wantFinding(t, rep, doctor.CodeOriginWrongCA, addr+" (a.example.test)", doctor.Error, "Cloudflare's origin-pull CA", doctor.ActionOriginSoft)
	if !strings.Contains(f.Message, e.lab.CAA.Cert.Subject.String()) || !strings.Contains(f.Message, cfsim.GlobalCACommonName) {
		t.Errorf("message %q should name the CA the origin trusts and Cloudflare's", f.Message)
	}
	wantFinding(t, rep, doctor.CodeGlobalCAExpiry, "", doctor.Info, "", "")
	if !rep.GlobalAOP || rep.Hostnames[0].Level != doctor.LevelGlobal {
		t.Errorf("want global AOP deciding a.example.test, got %+v", rep.Hostnames)
	}
}

func TestGlobalCAExpiryIsCloudflares(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{TLSClientAuth: "on"})
	e.now = time.Date(2029, time.June, 1, 0, 0, 0, 0, time.UTC)
	d := doctor.Deps{Cloudflare: e.c}
	d.Now = func() time.Time { return e.now }
	rep, err := doctor.Diagnose(context.Background(), d, doctor.Input{Zone: zoneName})
	if err != nil {
		t.Fatal(err)
	}
	f := wantFinding(t, rep, doctor.CodeGlobalCAExpiry, "", doctor.Warn, "replacement CA", "")
	if !strings.Contains(f.Message, "2029-11-01") {
		t.Errorf("message %q should give the global CA's expiry", f.Message)
	}
}

func TestOriginNotEnforcing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	e.zoneLevel(e.lab.ClientA)
	e.alert(cfapi.AlertZoneCertExpiry)
	addr := startOrigin(t, e.lab, "soft", "")
	right := e.lab.ClientA.TLSCertificate()
	rep := e.diagnose(doctor.Input{Hostnames: []string{"a.example.test"}, Origins: []string{addr},
		ClientCert: &right, ProbeTimeout: 10 * time.Second})
	wantFinding(t, rep, doctor.CodeOriginNotEnforcing, addr+" (a.example.test)", doctor.Warn, "enforce phase", doctor.ActionOriginEnforce)
	if o := rep.Origins[0]; o.Enforcing == nil || *o.Enforcing {
		t.Errorf("origin state %+v, want not enforcing", o)
	}
}

func TestOriginEnforcingWithoutAOP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	addr := startOrigin(t, e.lab, "enforce", "")
	rep := e.diagnose(doctor.Input{Hostnames: []string{"a.example.test"}, Origins: []string{addr}, ProbeTimeout: 10 * time.Second})
	wantFinding(t, rep, doctor.CodeOriginNoAOP, addr+" (a.example.test)", doctor.Error, "soft phase", doctor.ActionOriginSoft)
}

func TestMissingExpiryAlerts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	e.zoneLevel(e.lab.ClientA)
	rep := e.diagnose(doctor.Input{})
	wantFinding(t, rep, doctor.CodeAlertsMissing, cfapi.AlertZoneCertExpiry, doctor.Warn, cfapi.AlertZoneCertExpiry, "")
}

func TestDeploymentTimedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{DeployTimeout: true})
	cert := e.upload(cfapi.LevelZone, e.lab.ClientA)
	rep := e.diagnose(doctor.Input{})
	wantFinding(t, rep, doctor.CodeCertTimedOut, cert.ID, doctor.Error, "upload the certificate again", "")
}

func TestEvidenceShareOfCloudflareRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	e.zoneLevel(e.lab.ClientA)
	e.alert(cfapi.AlertZoneCertExpiry)
	log := filepath.Join(t.TempDir(), "aop.log")
	lines := []string{
		`aop1 time=2026-11-22T21:39:07+00:00 sni=a.example.test host=a.example.test status=200 verify=SUCCESS fp=3f serial=1A subject="CN=a" issuer="CN=Lab AOP CA A" client=198.51.100.1 ray=8a1b2c3d4e5f6071-AMS`,
		`aop1 time=2026-11-22T21:39:08+00:00 sni=a.example.test host=a.example.test status=200 verify=NONE fp=- serial=- subject="" issuer="" client=198.51.100.2 ray=8a1b2c3d4e5f6072-AMS`,
		`aop1 time=2026-11-22T21:39:09+00:00 sni=a.example.test host=a.example.test status=200 verify=NONE fp=- serial=- subject="" issuer="" client=203.0.113.9 ray=-`,
	}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep := e.diagnose(doctor.Input{EvidenceLogs: []string{log}})
	f := wantFinding(t, rep, doctor.CodeEvidenceFailures, "", doctor.Error, "before enforcing", doctor.ActionEvidence)
	if !strings.Contains(f.Message, "1 of 2") || !strings.Contains(f.Message, "50.0% verified") {
		t.Errorf("message %q should give 1 of 2 Cloudflare requests, 50%% verified", f.Message)
	}
	ev := rep.Evidence
	if ev == nil || ev.Cloudflare != 2 || ev.Verified != 1 || ev.Direct != 1 || ev.Impact.Cloudflare != 1 || ev.Impact.Direct != 1 {
		t.Errorf("evidence = %+v", ev)
	}
	wantFinding(t, rep, doctor.CodeEvidenceDirect, "", doctor.Info, "", "")
}

func TestUnknownZoneFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	_, err := doctor.Diagnose(context.Background(), doctor.Deps{Cloudflare: e.c}, doctor.Input{Zone: "nope.example"})
	if err == nil {
		t.Fatal("an unknown zone must fail")
	}
}

func TestPrecedencePerHostname(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{TLSClientAuth: "on"})
	zc := e.zoneLevel(e.leaf(zoneName, e.now.Add(365*24*time.Hour)))
	hc := e.upload(cfapi.LevelHostname, e.lab.ClientB)
	ctx := context.Background()
	if _, err := e.c.EnableHostnames(ctx, e.zoneID, hc.ID, []string{"a.example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DisableHostnames(ctx, e.zoneID, hc.ID, []string{"b.example.test"}); err != nil {
		t.Fatal(err)
	}
	rep := e.diagnose(doctor.Input{Hostnames: []string{"c.example.test"}})
	want := map[string]doctor.HostState{
		"a.example.test": {Hostname: "a.example.test", Level: doctor.LevelHostname, CertID: hc.ID, Association: "enabled", Issuer: e.lab.CAB.Cert.Subject.String()},
		"b.example.test": {Hostname: "b.example.test", Level: doctor.LevelHostnameDisabled, Association: "disabled"},
		"c.example.test": {Hostname: "c.example.test", Level: doctor.LevelZone, CertID: zc.ID, Issuer: e.lab.CAA.Cert.Subject.String()},
	}
	if len(rep.Hostnames) != len(want) {
		t.Fatalf("hostnames %+v, want %d", rep.Hostnames, len(want))
	}
	for _, h := range rep.Hostnames {
		if h != want[h.Hostname] {
			t.Errorf("%s: %+v, want %+v", h.Hostname, h, want[h.Hostname])
		}
	}
	// A per-hostname certificate in use without its alert policy.
	wantFinding(t, rep, doctor.CodeAlertsMissing, cfapi.AlertHostnameCertExpiry, doctor.Warn, cfapi.AlertHostnameCertExpiry, "")
}

func TestAssociationsReadOneByOneWithoutTheList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{HideAssociationList: true})
	hc := e.upload(cfapi.LevelHostname, e.lab.ClientB)
	if _, err := e.c.EnableHostnames(context.Background(), e.zoneID, hc.ID, []string{"b.example.test"}); err != nil {
		t.Fatal(err)
	}
	rep := e.diagnose(doctor.Input{Hostnames: []string{"b.example.test", "unassociated.example.test"}})
	wantFinding(t, rep, doctor.CodeAssocListFallback, "", doctor.Info, "name every hostname", "")
	if len(rep.Hostnames) != 2 || rep.Hostnames[0].Level != doctor.LevelHostname || rep.Hostnames[1].Level != doctor.LevelNone {
		t.Errorf("hostnames %+v: want b on its certificate, unassociated on none", rep.Hostnames)
	}
}

func TestAssociationStillDeploying(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{DeployAfter: 5})
	hc := e.upload(cfapi.LevelHostname, e.leaf("b.example.test", e.now.Add(365*24*time.Hour)))
	if _, err := e.c.EnableHostnames(context.Background(), e.zoneID, hc.ID, []string{"b.example.test"}); err != nil {
		t.Fatal(err)
	}
	rep := e.diagnose(doctor.Input{})
	wantFinding(t, rep, doctor.CodeAssocPending, "b.example.test", doctor.Info, "", "")
	wantFinding(t, rep, doctor.CodeCertDeploying, hc.ID, doctor.Info, "", "")
	if h := rep.Hostnames[0]; h.Association != "pending" || h.Level != doctor.LevelNone {
		t.Errorf("hostname state %+v, want a pending association", h)
	}
	if rep.Problems() {
		t.Errorf("a deployment in progress is not a problem:\n%s", dump(rep))
	}
}
