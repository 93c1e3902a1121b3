package tfexport_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/aopwizard/aopwizard/steps/tfexport"
)

// A rollout's scope keeps its own objects, and a key path with template
// characters reaches file() as a literal path: the HCL evaluates it to
// exactly the path, never to an interpolation.
func TestRestrictToARolloutKeepsItsObjectsAndQuotesKeyPaths(t *testing.T) {
	s := fixedSnapshot()
	path := `/srv/keys/${var.x}/%{if}"q".key`
	s.Restrict(tfexport.Scope{CertKeys: map[string]string{"9b0f7e0a-1111-4222-8333-444455556666": path},
		Hostnames: []string{"app.example.com"}, ZoneAOP: false})
	out := tfexport.Render(s)
	text := string(out.HCL)
	for _, bad := range []string{"2458ce5a", "legacy.example.com", "aop_key_dir", "tls_client_auth", `"ssl"`, "notification_policy", tfexport.TypeZoneSettings} {
		if strings.Contains(text, bad) {
			t.Errorf("the scoped export has %q:\n%s", bad, text)
		}
	}
	if len(out.Resources) != 2 || len(out.KeyFiles()) != 0 {
		t.Errorf("resources %v, key files %v; want the hostname certificate and its association, no key dir files", out.Resources, out.KeyFiles())
	}
	f, diags := hclparse.NewParser().ParseHCL(out.HCL, "aop.tf")
	if diags.HasErrors() {
		t.Fatalf("%v\n%s", diags, text)
	}
	content, _ := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "resource", LabelNames: []string{"type", "name"}}}})
	for _, b := range content.Blocks {
		if b.Labels[0] != tfexport.TypeHostnameCert {
			continue
		}
		attrs, _ := b.Body.JustAttributes()
		call := attrs["private_key"].Expr.(*hclsyntax.FunctionCallExpr)
		v, d := call.Args[0].Value(nil)
		if d.HasErrors() || v.AsString() != path {
			t.Errorf("private_key reads %#v (%v), want %q", v, d, path)
		}
		return
	}
	t.Fatalf("no hostname certificate:\n%s", text)
}
