package tfexport_test

import (
	"context"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
	"github.com/aopwizard/aopwizard/steps/tfexport"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// schema holds the provider v5 facts of docs/cloudflare-api.md, "Terraform
// v5 resources" (and the reference it summarises): for each resource type,
// its required and optional arguments, and the import ID's shape. terraform
// itself is not available to validate against, so this table is the check.
var schema = map[string]struct {
	required, optional []string
	// importID matches the import ID; nil means no import is documented.
	importID *regexp.Regexp
}{
	tfexport.TypeZoneCert:     {required: []string{"zone_id", "certificate", "private_key"}, importID: regexp.MustCompile(`^[0-9a-f]{32}/[0-9a-f-]{36}$`)},
	tfexport.TypeZoneSettings: {required: []string{"zone_id", "enabled"}, importID: regexp.MustCompile(`^[0-9a-f]{32}$`)},
	tfexport.TypeHostnameCert: {required: []string{"zone_id", "certificate", "private_key"}, importID: regexp.MustCompile(`^[0-9a-f]{32}/[0-9a-f-]{36}$`)},
	tfexport.TypeAssociation:  {required: []string{"zone_id", "config"}, importID: regexp.MustCompile(`^[0-9a-f]{32}/[a-z0-9.-]+$`)},
	tfexport.TypeZoneSetting:  {required: []string{"zone_id", "setting_id", "value"}, importID: regexp.MustCompile(`^[0-9a-f]{32}/(tls_client_auth|ssl)$`)},
	tfexport.TypePolicy: {required: []string{"account_id", "name", "alert_type", "enabled", "mechanisms"},
		optional: []string{"description", "alert_interval", "filters"}},
}

// associationConfigKeys are the keys of each element of config.
var associationConfigKeys = []string{"cert_id", "enabled", "hostname"}

// parsed is the exported file as HCL sees it.
type parsed struct {
	resources map[string]*hclsyntax.Block // by address
	imports   map[string]string           // address -> id
	order     []string
}

// check parses src and validates it against the schema table.
func check(t *testing.T, src []byte) parsed {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCL(src, "aop.tf")
	if diags.HasErrors() {
		t.Fatalf("the export does not parse: %v\n%s", diags, src)
	}
	p := parsed{resources: map[string]*hclsyntax.Block{}, imports: map[string]string{}}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		switch b.Type {
		case "resource":
			addr := b.Labels[0] + "." + b.Labels[1]
			if p.resources[addr] != nil {
				t.Errorf("resource %s declared twice", addr)
			}
			p.resources[addr] = b
			p.order = append(p.order, addr)
			checkResource(t, b)
		case "import":
			to, id := b.Body.Attributes["to"], b.Body.Attributes["id"]
			if to == nil || id == nil || len(b.Body.Attributes) != 2 {
				t.Errorf("import block at %s: want exactly to and id", b.DefRange())
				continue
			}
			trav, diags := hcl.AbsTraversalForExpr(to.Expr)
			if diags.HasErrors() || len(trav) != 2 {
				t.Errorf("import at %s: to is not a resource address", b.DefRange())
				continue
			}
			v, diags := id.Expr.Value(nil)
			if diags.HasErrors() {
				t.Errorf("import at %s: id is not a literal: %v", b.DefRange(), diags)
				continue
			}
			p.imports[trav.RootName()+"."+trav[1].(hcl.TraverseAttr).Name] = v.AsString()
		case "terraform", "variable", "locals":
		default:
			t.Errorf("unexpected block %s", b.Type)
		}
	}
	for addr, id := range p.imports {
		b := p.resources[addr]
		if b == nil {
			t.Errorf("import of %s, which is not declared", addr)
			continue
		}
		re := schema[b.Labels[0]].importID
		if re == nil || !re.MatchString(id) {
			t.Errorf("import %s id %q does not have the provider's import ID shape", addr, id)
		}
	}
	for addr, b := range p.resources {
		if schema[b.Labels[0]].importID != nil && p.imports[addr] == "" {
			t.Errorf("%s exists in the zone but has no import block", addr)
		}
	}
	return p
}

func checkResource(t *testing.T, b *hclsyntax.Block) {
	t.Helper()
	s, ok := schema[b.Labels[0]]
	if !ok {
		t.Errorf("resource type %s is not one of the provider's AOP resources", b.Labels[0])
		return
	}
	for name := range b.Body.Attributes {
		if !slices.Contains(s.required, name) && !slices.Contains(s.optional, name) {
			t.Errorf("%s.%s: attribute %s is not in the provider's schema", b.Labels[0], b.Labels[1], name)
		}
	}
	for _, name := range s.required {
		if b.Body.Attributes[name] == nil {
			t.Errorf("%s.%s: required attribute %s missing", b.Labels[0], b.Labels[1], name)
		}
	}
	for _, inner := range b.Body.Blocks {
		if inner.Type != "lifecycle" {
			t.Errorf("%s.%s: unexpected block %s", b.Labels[0], b.Labels[1], inner.Type)
		}
	}
	if pk := b.Body.Attributes["private_key"]; pk != nil {
		call, ok := pk.Expr.(*hclsyntax.FunctionCallExpr)
		if !ok || call.Name != "file" {
			t.Errorf("%s.%s: private_key must be read with file(), never inlined", b.Labels[0], b.Labels[1])
		}
		if len(b.Body.Blocks) != 1 {
			t.Errorf("%s.%s: an imported certificate needs lifecycle { ignore_changes = [private_key] }", b.Labels[0], b.Labels[1])
		}
	}
	if cfg := b.Body.Attributes["config"]; cfg != nil {
		tup, ok := cfg.Expr.(*hclsyntax.TupleConsExpr)
		if !ok || len(tup.Exprs) != 1 {
			t.Errorf("%s.%s: config must hold exactly one hostname", b.Labels[0], b.Labels[1])
			return
		}
		obj, ok := tup.Exprs[0].(*hclsyntax.ObjectConsExpr)
		if !ok {
			t.Errorf("%s.%s: config element is not an object", b.Labels[0], b.Labels[1])
			return
		}
		var keys []string
		for _, it := range obj.Items {
			keys = append(keys, hcl.ExprAsKeyword(it.KeyExpr))
		}
		slices.Sort(keys)
		if !slices.Equal(keys, associationConfigKeys) {
			t.Errorf("%s.%s: config keys %v, want %v", b.Labels[0], b.Labels[1], keys, associationConfigKeys)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the export (go test -update rewrites it):\n%s", path, got)
	}
}

func boolp(b bool) *bool { return &b }

// fixedSnapshot is a zone with one of everything, with fixed IDs and
// certificate text so the golden file is stable.
func fixedSnapshot() *tfexport.Snapshot {
	exp := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	pemA := "-----BEGIN CERTIFICATE-----\nMIIBzone\n-----END CERTIFICATE-----\n"
	pemB := "-----BEGIN CERTIFICATE-----\nMIIBhost\n-----END CERTIFICATE-----\n"
	return &tfexport.Snapshot{
		Zone:          cfapi.Zone{ID: "0123456789abcdef0123456789abcdef", Name: "example.com", AccountID: "fedcba9876543210fedcba9876543210"},
		SSLMode:       "strict",
		TLSClientAuth: "off",
		ZoneAOP:       true,
		ZoneCerts: []cfapi.Certificate{{Level: cfapi.LevelZone, ID: "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60",
			Status: cfapi.StatusActive, ExpiresOn: exp, PEM: pemA}},
		HostCerts: []cfapi.Certificate{{Level: cfapi.LevelHostname, ID: "9b0f7e0a-1111-4222-8333-444455556666",
			Status: cfapi.StatusActive, ExpiresOn: exp, PEM: pemB}},
		Associations: []cfapi.HostnameStatus{
			{Hostname: "app.example.com", CertID: "9b0f7e0a-1111-4222-8333-444455556666", Enabled: boolp(true), Status: cfapi.StatusActive},
			{Hostname: "legacy.example.com", CertID: "9b0f7e0a-1111-4222-8333-444455556666", Enabled: boolp(false), Status: cfapi.StatusActive},
		},
		Policies: []cfapi.AlertPolicy{{ID: "p1", Name: "AOP zone certificate expiry", AlertType: cfapi.AlertZoneCertExpiry,
			Enabled: true, Emails: []string{"ops@example.com"}}},
	}
}

func TestRenderGolden(t *testing.T) {
	out := tfexport.Render(fixedSnapshot())
	golden(t, "example.com.tf", out.HCL)
	p := check(t, out.HCL)
	if len(p.resources) != len(out.Resources) {
		t.Errorf("%d resources in the HCL, %d reported", len(p.resources), len(out.Resources))
	}
	if got, want := out.KeyFiles(), []string{"zone_2458ce5a.key", "hostname_9b0f7e0a.key"}; !slices.Equal(got, want) {
		t.Errorf("key files %v, want %v", got, want)
	}
}

const zone = "example.test"

// simZone is a simulator holding zone, a client on it, and an upload
// helper.
func simZone(t *testing.T, opts cfsim.Options) (*cfsim.Sim, *cfapi.SDKClient, func(cfapi.Level, *pki.Pair) cfapi.Certificate) {
	t.Helper()
	opts.Zones = []string{zone}
	sim := cfsim.New(opts)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := cfapi.New(cfapi.Config{Token: sim.Token(), BaseURL: srv.URL + "/client/v4/", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	upload := func(level cfapi.Level, p *pki.Pair) cfapi.Certificate {
		t.Helper()
		key, err := p.KeyPEM()
		if err != nil {
			t.Fatal(err)
		}
		cert, err := c.UploadCertificate(context.Background(), sim.ZoneID(zone), level, p.CertPEM(), key)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	return sim, c, upload
}

// TestExportMatchesTheZone exports a cfsim zone with every kind of object
// and checks one resource per object, each imported by its ID.
func TestExportMatchesTheZone(t *testing.T) {
	t.Parallel()
	sim, c, upload := simZone(t, cfsim.Options{SSLMode: cfapi.SSLStrict, TLSClientAuth: "on"})
	ctx := context.Background()
	zoneID := sim.ZoneID(zone)
	lab := pkitest.New(t)
	zc := upload(cfapi.LevelZone, lab.ClientA)
	if _, err := c.SetZoneAOPEnabled(ctx, zoneID, true); err != nil {
		t.Fatal(err)
	}
	hc := upload(cfapi.LevelHostname, lab.ClientB)
	if _, err := c.EnableHostnames(ctx, zoneID, hc.ID, []string{"a.example.test", "b.example.test"}); err != nil {
		t.Fatal(err)
	}
	// A deleted certificate and a voided association are not configuration.
	gone := upload(cfapi.LevelHostname, lab.ClientAExpired)
	if _, err := c.EnableHostnames(ctx, zoneID, gone.ID, []string{"old.example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VoidHostnames(ctx, zoneID, gone.ID, []string{"old.example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteCertificate(ctx, zoneID, gone.Ref()); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{cfapi.AlertZoneCertExpiry, cfapi.AlertHostnameCertExpiry} {
		if _, _, err := c.EnsureAlertPolicy(ctx, sim.AccountID(), cfapi.AlertPolicySpec{Name: "aop " + typ, AlertType: typ, Emails: []string{"ops@example.test"}}); err != nil {
			t.Fatal(err)
		}
	}

	snap, err := tfexport.Read(ctx, c, tfexport.Input{Zone: zone})
	if err != nil {
		t.Fatal(err)
	}
	out := tfexport.Render(snap)
	p := check(t, out.HCL)

	// One resource per object in the simulator.
	want := map[string]int{
		tfexport.TypeZoneCert: 1, tfexport.TypeHostnameCert: 1, tfexport.TypeAssociation: 2,
		tfexport.TypeZoneSettings: 1, tfexport.TypeZoneSetting: 2, tfexport.TypePolicy: 2,
	}
	got := map[string]int{}
	for _, b := range p.resources {
		got[b.Labels[0]]++
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%d %s resources, want %d\n%s", got[typ], typ, n, out.HCL)
		}
	}
	if len(got) != len(want) {
		t.Errorf("resource types %v, want %v", got, want)
	}
	ids := map[string]bool{}
	for _, id := range p.imports {
		ids[id] = true
	}
	for _, id := range []string{zoneID, zoneID + "/" + zc.ID, zoneID + "/" + hc.ID, zoneID + "/a.example.test",
		zoneID + "/b.example.test", zoneID + "/tls_client_auth", zoneID + "/ssl"} {
		if !ids[id] {
			t.Errorf("no import block for %s", id)
		}
	}
	src := string(out.HCL)
	if strings.Contains(src, gone.ID) || strings.Contains(src, "old.example.test") {
		t.Errorf("the deleted certificate or voided association was exported:\n%s", src)
	}
	if strings.Contains(src, "PRIVATE KEY") {
		t.Error("a private key was inlined")
	}
	// The certificate is exported exactly as Cloudflare holds it.
	cert := p.resources[tfexport.TypeZoneCert+"."+out.Resources[3].Name]
	if cert == nil {
		t.Fatalf("resource order changed: %v", out.Resources)
	}
	v, diags := cert.Body.Attributes["certificate"].Expr.Value(nil)
	if diags.HasErrors() || v.AsString() != zc.PEM {
		t.Errorf("certificate text differs from Cloudflare's: %v", diags)
	}
}

// Hostnames that differ only in punctuation get distinct resource names.
func TestRenderNamesAreUnique(t *testing.T) {
	t.Parallel()
	s := fixedSnapshot()
	id := s.HostCerts[0].ID
	s.Associations = []cfapi.HostnameStatus{
		{Hostname: "a-b.example.com", CertID: id, Enabled: boolp(true), Status: cfapi.StatusActive},
		{Hostname: "a.b.example.com", CertID: id, Enabled: boolp(true), Status: cfapi.StatusActive},
		{Hostname: "9.example.com", CertID: "00000000-0000-4000-8000-000000000000", Enabled: boolp(true), Status: cfapi.StatusActive},
	}
	out := tfexport.Render(s)
	p := check(t, out.HCL)
	if len(p.resources) != len(out.Resources) {
		t.Errorf("%d resources parsed, %d rendered:\n%s", len(p.resources), len(out.Resources), out.HCL)
	}
	// An association whose certificate is gone keeps its literal ID.
	if !strings.Contains(string(out.HCL), `cert_id  = "00000000-0000-4000-8000-000000000000"`) {
		t.Errorf("the association of a deleted certificate should name its ID:\n%s", out.HCL)
	}
}

func TestReadWithoutTheAssociationList(t *testing.T) {
	t.Parallel()
	sim, c, upload := simZone(t, cfsim.Options{HideAssociationList: true})
	ctx := context.Background()
	hc := upload(cfapi.LevelHostname, pkitest.New(t).ClientB)
	if _, err := c.EnableHostnames(ctx, sim.ZoneID(zone), hc.ID, []string{"b.example.test"}); err != nil {
		t.Fatal(err)
	}
	snap, err := tfexport.Read(ctx, c, tfexport.Input{Zone: zone, Hostnames: []string{"b.example.test", "none.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Associations) != 1 || snap.Associations[0].Hostname != "b.example.test" {
		t.Errorf("associations %+v, want b.example.test alone", snap.Associations)
	}
}
