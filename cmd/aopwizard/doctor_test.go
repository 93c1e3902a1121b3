package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps/doctor"
)

// cfsimEnv starts a simulator holding example.test and points the
// CLOUDFLARE_* environment at it (so its tests cannot run in parallel).
func cfsimEnv(t *testing.T, opts cfsim.Options) (*cfsim.Sim, *cfapi.SDKClient) {
	t.Helper()
	opts.Zones = []string{"example.test"}
	sim := cfsim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	t.Setenv(cfapi.EnvAPIToken, sim.Token())
	t.Setenv(cfapi.EnvBaseURL, srv.URL+"/client/v4/")
	c, err := cfapi.New(cfapi.Config{Token: sim.Token(), BaseURL: srv.URL + "/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

// uploadZoneCert uploads a zone-level certificate valid until notAfter
// and turns zone-level AOP on.
func uploadZoneCert(t *testing.T, sim *cfsim.Sim, c *cfapi.SDKClient, lab *pkitest.Lab, notAfter time.Time) cfapi.Certificate {
	t.Helper()
	p, err := pki.IssueClient(lab.CAA, pki.ClientOptions{CommonName: "example.test", KeyType: pki.ECDSAP256,
		NotBefore: notAfter.Add(-400 * 24 * time.Hour), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	zoneID := sim.ZoneID("example.test")
	cert, err := c.UploadCertificate(ctx, zoneID, cfapi.LevelZone, p.CertPEM(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetZoneAOPEnabled(ctx, zoneID, true); err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestDoctorCommandExpiredCertificateExits1(t *testing.T) {
	sim, c := cfsimEnv(t, cfsim.Options{SSLMode: cfapi.SSLStrict})
	lab := pkitest.New(t)
	cert := uploadZoneCert(t, sim, c, lab, time.Now().Add(-48*time.Hour))
	code, out, errs := probeRunCLI(t, "doctor", "--zone", "example.test")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1; stdout:\n%s\nstderr: %s", code, out, errs)
	}
	for _, want := range []string{"ERROR cert-expired", cert.ID, "fix: issue a new client certificate", "run: aopwizard pki generate --dir DIR --domain example.test", "WARN  expiry-alerts-missing"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "problems found in zone example.test") {
		t.Errorf("stderr %q should say problems were found", errs)
	}
}

func TestDoctorCommandWarningsExit0JSON(t *testing.T) {
	sim, c := cfsimEnv(t, cfsim.Options{SSLMode: cfapi.SSLStrict})
	lab := pkitest.New(t)
	cert := uploadZoneCert(t, sim, c, lab, time.Now().Add(10*24*time.Hour+time.Hour))
	code, out, errs := probeRunCLI(t, "doctor", "--zone", "example.test", "--json")
	if code != exitOK {
		t.Fatalf("warnings only: exit %d, want 0; stdout:\n%s\nstderr: %s", code, out, errs)
	}
	var rep struct {
		Findings []struct{ Severity, Code, Subject, Remedy, Action string }
		Commands map[string]string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	found := false
	for _, f := range rep.Findings {
		if f.Code == "cert-expiring" && f.Subject == cert.ID {
			found = f.Severity == "warn" && f.Action == "new-client-cert" && f.Remedy != ""
		}
	}
	if !found {
		t.Errorf("no warn cert-expiring finding with a remedy in:\n%s", out)
	}
	if !strings.HasPrefix(rep.Commands["new-client-cert"], "aopwizard pki generate") {
		t.Errorf("commands = %v", rep.Commands)
	}
}

func TestDoctorCommandBadInputExits2(t *testing.T) {
	_, _ = cfsimEnv(t, cfsim.Options{})
	log := filepath.Join(t.TempDir(), "missing.log")
	for _, args := range [][]string{
		{"doctor"},
		{"doctor", "--zone", "example.test", "--client-cert", "x.pem"},
		{"doctor", "--zone", "example.test", "--log", log},
		{"doctor", "--zone", "example.test", "--origin", "127.0.0.1:99999"},
		{"doctor", "--zone", "example.test", "--hostname", "a b"},
	} {
		if code, out, errs := probeRunCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want 2; stdout:\n%s\nstderr: %s", args, code, out, errs)
		}
	}
	t.Setenv(cfapi.EnvAPIToken, "")
	if code, _, errs := probeRunCLI(t, "doctor", "--zone", "example.test"); code != exitUsage || !strings.Contains(errs, cfapi.EnvAPIToken) {
		t.Errorf("without a token: exit %d, stderr %q; want 2 naming %s", code, errs, cfapi.EnvAPIToken)
	}
}

func TestExportTerraformCommand(t *testing.T) {
	sim, c := cfsimEnv(t, cfsim.Options{SSLMode: cfapi.SSLStrict})
	lab := pkitest.New(t)
	cert := uploadZoneCert(t, sim, c, lab, time.Now().Add(365*24*time.Hour))
	out := filepath.Join(t.TempDir(), "aop.tf")
	code, stdout, errs := probeRunCLI(t, "export", "terraform", "--zone", "example.test", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d; stdout:\n%s\nstderr: %s", code, stdout, errs)
	}
	hcl, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zoneID := sim.ZoneID("example.test")
	for _, want := range []string{`id = "` + zoneID + "/" + cert.ID + `"`, "cloudflare_authenticated_origin_pulls_settings", `file("${var.aop_key_dir}/zone_`} {
		if !strings.Contains(string(hcl), want) {
			t.Errorf("export lacks %q:\n%s", want, hcl)
		}
	}
	if !strings.Contains(errs, "exported 4 resources") || !strings.Contains(errs, ".key") {
		t.Errorf("stderr %q should count the resources and name the key files", errs)
	}
	// An existing file is not replaced without --force.
	if code, _, errs := probeRunCLI(t, "export", "terraform", "--zone", "example.test", "--out", out); code != exitUsage {
		t.Errorf("existing --out: exit %d, want 2 (%s)", code, errs)
	}
	if code, stdout, _ := probeRunCLI(t, "export", "terraform", "--zone", "example.test"); code != exitOK || !strings.Contains(stdout, "required_providers") {
		t.Errorf("to stdout: exit %d\n%s", code, stdout)
	}
	if code, _, _ := probeRunCLI(t, "export", "terraform"); code != exitUsage {
		t.Errorf("without --zone: exit %d, want 2", code)
	}
}

// The wizard's doctor screen reads Cloudflare with the token it holds and
// offers the same commands as `aopwizard doctor`.
func TestDoctorUIWiring(t *testing.T) {
	sim, c := cfsimEnv(t, cfsim.Options{SSLMode: cfapi.SSLStrict})
	uploadZoneCert(t, sim, c, pkitest.New(t), time.Now().Add(-24*time.Hour))
	t.Setenv(cfapi.EnvAPIToken, "")
	rep, err := uiDoctor{}.Diagnose(context.Background(), sim.Token(), "example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Problems() {
		t.Errorf("an expired zone-level certificate is not a problem: %+v", rep.Findings)
	}
	if got := (uiDoctor{}).Command(doctor.ActionProbe, rep, []string{"192.0.2.1"}); got != "aopwizard probe --origin 192.0.2.1" {
		t.Errorf("probe command %q", got)
	}
	if _, err := (uiDoctor{}).Diagnose(context.Background(), "", "example.test", nil); err == nil {
		t.Error("no token at all: no error")
	}
}

// export terraform ID adopts what the rollout made and nothing else in
// the zone: not a zone-level certificate uploaded before it, nor a
// hostname certificate and association added by hand after it; each key
// is the rollout's own key file.
func TestExportTerraformRolloutOnlyWhatItMade(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	c, err := cfapi.New(cfapi.ConfigFromEnv(os.Getenv))
	if err != nil {
		t.Fatal(err)
	}
	before := uploadZoneCert(t, l.sim, c, l.pki, time.Now().Add(365*24*time.Hour))
	runCLI(t, l.args("hostname", "--hostname", "a.example.test", "--hostname", "b.example.test")...).expect(t, 0, "verified")
	id := l.rolloutIDs(t)[0]
	r := loadRollout(t, l, id)

	p, err := pki.IssueClient(l.pki.CAA, pki.ClientOptions{CommonName: "other.example.test", KeyType: pki.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	ctx, zoneID := context.Background(), l.sim.ZoneID(runZone)
	byHand, err := c.UploadCertificate(ctx, zoneID, cfapi.LevelHostname, p.CertPEM(), key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnableHostnames(ctx, zoneID, byHand.ID, []string{"other.example.test"}); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "aop.tf")
	res := runCLI(t, "export", "terraform", id, "--state-dir", l.stateDir, "--out", out)
	res.expect(t, 0, "exported")
	hcl, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, diags := hclparse.NewParser().ParseHCL(hcl, "aop.tf"); diags.HasErrors() {
		t.Fatalf("the export does not parse: %v\n%s", diags, hcl)
	}
	text := string(hcl)
	cert := r.Certificates[0]
	for _, want := range []string{
		`id = "` + zoneID + "/" + cert.ID + `"`,
		`private_key = file("` + cert.KeyFile + `")`,
		`hostname = "a.example.test"`, `hostname = "b.example.test"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the export lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{before.ID, byHand.ID, "other.example.test", "aop_key_dir", "cloudflare_authenticated_origin_pulls_settings"} {
		if strings.Contains(text, bad) {
			t.Errorf("the export has %q, which the rollout did not make:\n%s", bad, text)
		}
	}
	if strings.Contains(res.errOut, "put these private keys") {
		t.Errorf("stderr asks for key files the export reads from the rollout: %s", res.errOut)
	}

	runCLI(t, "export", "terraform", id, "--state-dir", l.stateDir, "--zone", "other.test").expect(t, exitUsage, "not the zone of rollout")
	runCLI(t, "export", "terraform", "no-such-rollout", "--state-dir", l.stateDir).expect(t, exitUsage)
}
