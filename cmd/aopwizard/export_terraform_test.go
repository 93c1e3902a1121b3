package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/pki"
)

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
