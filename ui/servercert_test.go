package ui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps"
)

// wwwSite is an nginx on this machine whose TLS site serves
// www.example.com with the lab's origin certificate.
func wwwSite(lab *pkitest.Lab) *sites.Config {
	return &sites.Config{Server: render.Nginx, Blocks: []sites.ServerBlock{{TLS: true, Block: sites.Block{
		Server: render.Nginx, File: "/etc/nginx/sites-enabled/www", Line: 3, Listen: []string{"443 ssl"},
		Names: []string{"www.example.com"}, Certificate: lab.Path(pkitest.ServerCert), Key: lab.Path(pkitest.ServerKey)}}}}
}

// withSite shows step's screen, the inputs changed by edit, on a machine
// whose nginx serves www.example.com (wwwSite).
func withSite(t *testing.T, step string, edit func(*Inputs)) (*pkitest.Lab, *fakeFlow, *Model) {
	t.Helper()
	lab := pkitest.New(t)
	f := newFakeFlow()
	f.sites = wwwSite(lab)
	m := atStep(t, f, ModeZone, step, 120, 40)
	reshow(t, m, step, edit)
	return lab, f, m
}

// noServerCert is the plan with run given no certificate.
func noServerCert(in *Inputs) { in.ServerCert, in.ServerKey = "", "" }

// clearField empties the focused text field.
func clearField(t *testing.T, m *Model) {
	t.Helper()
	drive(t, m, tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
}

func paste(t *testing.T, m *Model, s string) {
	t.Helper()
	drive(t, m, tea.PasteMsg{Content: s})
}

// Caddy's config is always aopwizard's own block: the plan asks for the
// origin's certificate and key, refuses a file that is not there or not
// what was asked for, saying what to do, and hands the paths to the flow.
func TestPlanAsksTheOriginCertificateForCaddy(t *testing.T) {
	lab := pkitest.New(t)
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 120, 40)
	reshow(t, m, StepPlan, noServerCert)
	keys(t, m, "enter", "enter", "down", "down", "down") // zone mode, www.example.com, caddy
	wantIn(t, m, "> caddy")
	keys(t, m, "enter", "enter") // no origin address
	wantIn(t, m, "Origin TLS certificate (PEM file)", "Origin TLS key (PEM file)", "presents it to Cloudflare.")
	wantNotIn(t, m, "HAProxy takes it") // said for HAProxy only

	missing := filepath.Join(lab.Dir, "nope.pem")
	paste(t, m, missing)
	keys(t, m, "enter")
	wantIn(t, m, "there is no file at "+missing, "give the path of the origin's certificate")
	clearField(t, m)
	paste(t, m, lab.Path(pkitest.ServerKey))
	keys(t, m, "enter")
	wantIn(t, m, "is not a certificate")
	clearField(t, m)
	paste(t, m, lab.Path(pkitest.ServerCert))
	keys(t, m, "enter")
	paste(t, m, lab.Path("caA.key"))
	keys(t, m, "enter")
	wantIn(t, m, "key of the certificate: give the key file made with that certificate")
	clearField(t, m)
	paste(t, m, lab.Path(pkitest.ServerKey))
	keys(t, m, "enter")
	wantIn(t, m, "Expiry alert email")
	if len(f.ran) != 0 {
		t.Fatalf("plan ran before the certificate was answered: %v", f.ran)
	}
	keys(t, m, "enter")
	in := f.inputs[len(f.inputs)-1]
	if in.Server != "caddy" || in.ServerCert != lab.Path(pkitest.ServerCert) || in.ServerKey != lab.Path(pkitest.ServerKey) {
		t.Fatalf("plan inputs: server %s, cert %q, key %q", in.Server, in.ServerCert, in.ServerKey)
	}
}

// nginx edits the site that serves the hostnames in place, which keeps its
// own certificate: nothing is asked. A hostname no site serves gets a new
// block of aopwizard's, which needs the certificate.
func TestPlanNginxAsksOnlyWithoutASite(t *testing.T) {
	_, f, m := withSite(t, StepPlan, noServerCert)
	keys(t, m, "enter", "enter", "enter", "enter") // zone, www.example.com, nginx, no address
	wantIn(t, m, "Expiry alert email")
	wantNotIn(t, m, "Origin TLS certificate")
	keys(t, m, "enter")
	if in := f.inputs[len(f.inputs)-1]; in.ServerCert != "" || in.ServerKey != "" {
		t.Fatalf("nginx with a site: cert %q key %q", in.ServerCert, in.ServerKey)
	}

	m = atStep(t, f, ModeZone, StepPlan, 120, 40)
	reshow(t, m, StepPlan, func(in *Inputs) { noServerCert(in); in.Hostnames = []string{"new.example.com"} })
	keys(t, m, "enter", "enter", "enter", "enter")
	wantIn(t, m, "Origin TLS certificate (PEM file)")
	keys(t, m, "enter")
	wantIn(t, m, "the origin's certificate is required here")
}

// Manual origin config on nginx writes aopwizard's own block: the plan
// asks, offering the files of the site that serves the hostnames.
func TestPlanOffersTheDetectedSiteCertificate(t *testing.T) {
	lab, f, m := withSite(t, StepPlan, func(in *Inputs) { noServerCert(in); in.OriginConfig = OriginManual })
	keys(t, m, "enter", "enter", "enter", "enter")
	wantIn(t, m, "> "+lab.Path(pkitest.ServerCert), "> "+lab.Path(pkitest.ServerKey),
		"detected from the site that serves www.example.com (/etc/nginx/sites-enabled/www:3)")
	// Emptied to type another path, the field stays empty.
	clearField(t, m)
	typeText(t, m, "/")
	wantNotIn(t, m, "> "+lab.Path(pkitest.ServerCert))
	clearField(t, m)
	paste(t, m, lab.Path(pkitest.ServerCert))
	keys(t, m, "enter", "enter", "enter")
	in := f.inputs[len(f.inputs)-1]
	if in.ServerCert != lab.Path(pkitest.ServerCert) || in.ServerKey != lab.Path(pkitest.ServerKey) {
		t.Fatalf("cert %q key %q", in.ServerCert, in.ServerKey)
	}
}

// Choosing "I'll do it" on the origin screen with no certificate known
// asks for it there (offering the site's), before the step runs: no error
// screen the wizard gives no way out of.
func TestOriginManualAsksTheCertificateFirst(t *testing.T) {
	lab, f, m := withSite(t, StepOrigin, noServerCert)
	keys(t, m, "m")
	wantIn(t, m, "The origin's own certificate", "> "+lab.Path(pkitest.ServerCert), "detected from the site that serves www.example.com")
	if len(f.ran) != 0 {
		t.Fatalf("the origin step ran before the certificate was given: %v", f.ran)
	}
	keys(t, m, "enter", "enter")
	<-f.started
	in := f.inputs[len(f.inputs)-1]
	if in.OriginConfig != OriginManual || in.ServerCert != lab.Path(pkitest.ServerCert) || in.ServerKey != lab.Path(pkitest.ServerKey) {
		t.Fatalf("origin inputs: %s, cert %q, key %q", in.OriginConfig, in.ServerCert, in.ServerKey)
	}
	if len(f.ran) != 1 || f.ran[0] != StepOrigin {
		t.Fatalf("ran %v", f.ran)
	}
	// Applying keeps the site's own certificate: nothing asked.
	_, _, m = withSite(t, StepOrigin, noServerCert)
	keys(t, m, "a")
	wantNotIn(t, m, "Origin TLS certificate")
}

// The answers reach the rollout: the flow keeps run's files until the
// operator gives others, and shows them back.
func TestStepsFlowCarriesTheOriginCertificate(t *testing.T) {
	f := NewStepsFlow(StepsFlowOptions{StateDir: t.TempDir(),
		Defaults: steps.Inputs{Origin: steps.OriginInputs{ServerCert: "/run/cert.pem", ServerKey: "/run/key.pem", Target: "managed"}}})
	defer f.Close()
	ctx := context.Background()
	sum, err := f.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Inputs.ServerCert != "/run/cert.pem" || sum.Inputs.Target != "managed" {
		t.Fatalf("start: %+v", sum.Inputs)
	}
	in := Inputs{Zone: "example.com", Mode: ModeZone, Server: "caddy"}
	if sum, err = f.SetInputs(ctx, in, Secrets{}); err != nil {
		t.Fatal(err)
	}
	if o := f.Current().Inputs.Origin; o.ServerCert != "/run/cert.pem" || o.ServerKey != "/run/key.pem" {
		t.Fatalf("run's files were dropped: %+v", o)
	}
	in.ServerCert, in.ServerKey = "/etc/ssl/origin.pem", "/etc/ssl/origin.key"
	if sum, err = f.SetInputs(ctx, in, Secrets{}); err != nil {
		t.Fatal(err)
	}
	if o := f.Current().Inputs.Origin; o.ServerCert != in.ServerCert || o.ServerKey != in.ServerKey {
		t.Fatalf("the answers did not reach the rollout: %+v", o)
	}
	if sum.Inputs.ServerCert != in.ServerCert || sum.Inputs.ServerKey != in.ServerKey {
		t.Fatalf("summary: %+v", sum.Inputs)
	}
}

// The accessible mode asks the same questions as line prompts: at the plan
// for Caddy (a missing file re-asked with what is wrong), and when
// choosing to write nginx's config by hand, offering the site's files.
func TestPlainAsksTheOriginCertificate(t *testing.T) {
	lab := pkitest.New(t)
	cert, key := lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey)
	f := newFakeFlow()
	out, err := runPlain(t, f, strings.Join([]string{
		"example.com", "", // zone, fix SSL mode
		"", "www.example.com", "caddy", "", "/nope/origin.pem", cert, key, "", // plan
	}, "\n")+"\n")
	if err == nil || !strings.Contains(err.Error(), "the input ended") {
		t.Fatalf("err %v\n%s", err, out)
	}
	wantLines(t, out, "The caddy config is aopwizard's own server block", "Origin TLS certificate (PEM file): ",
		"there is no file at /nope/origin.pem", "Origin TLS key (PEM file): ", "Nothing has changed yet")
	if in := f.snapshot().Inputs; in.ServerCert != cert || in.ServerKey != key {
		t.Fatalf("plan inputs: cert %q key %q", in.ServerCert, in.ServerKey)
	}

	f = newFakeFlow()
	f.sites = wwwSite(lab)
	out, err = runPlain(t, f, strings.Join([]string{
		"example.com", "",
		"", "www.example.com", "nginx", "", "", "", // plan: nothing asked of the certificate
		"", "y", "", // generate, no passphrase, upload
		"m", "", "", // origin by hand: the site's files taken
	}, "\n")+"\n")
	if err == nil || !strings.Contains(err.Error(), "the input ended") {
		t.Fatalf("err %v\n%s", err, out)
	}
	wantLines(t, out, "Origin TLS certificate and key detected from the site that serves www.example.com (/etc/nginx/sites-enabled/www:3).",
		"Origin TLS certificate (PEM file) ["+cert+"]: ", "Origin TLS key (PEM file) ["+key+"]: ", "The nginx config with the origin's certificate", "✓ Origin done")
	if n := strings.Count(out, "Origin TLS certificate (PEM file)"); n != 1 {
		t.Fatalf("asked %d times for the certificate:\n%s", n, out)
	}
	if in := f.snapshot().Inputs; in.OriginConfig != OriginManual || in.ServerCert != cert || in.ServerKey != key {
		t.Fatalf("origin inputs: %s cert %q key %q", in.OriginConfig, in.ServerCert, in.ServerKey)
	}
}
