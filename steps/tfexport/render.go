package tfexport

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/aopwizard/aopwizard/cfapi"
)

// Resource types of the Cloudflare provider v5 (docs/cloudflare-api.md,
// "Terraform v5 resources").
const (
	TypeZoneCert     = "cloudflare_authenticated_origin_pulls_certificate"
	TypeZoneSettings = "cloudflare_authenticated_origin_pulls_settings"
	TypeHostnameCert = "cloudflare_authenticated_origin_pulls_hostname_certificate"
	TypeAssociation  = "cloudflare_authenticated_origin_pulls"
	TypeZoneSetting  = "cloudflare_zone_setting"
	TypePolicy       = "cloudflare_notification_policy"
)

// KeyDirVariable is the variable naming the directory of private keys.
const KeyDirVariable = "aop_key_dir"

// ProviderConstraint is the provider version the output needs: hostname
// certificates exist from v5.17.0.
const ProviderConstraint = ">= 5.17.0, < 6.0.0"

// Resource is one exported resource.
type Resource struct {
	Type string
	Name string
	// ImportID is what the import block names; empty when the provider
	// documents no import for the type.
	ImportID string
	// KeyFile is the private key file the resource reads, relative to the
	// key directory; empty for resources without a key.
	KeyFile string
}

// Address is the resource's address in the configuration.
func (r Resource) Address() string { return r.Type + "." + r.Name }

// Output is the rendered configuration and what it holds.
type Output struct {
	HCL       []byte
	Resources []Resource
}

// KeyFiles lists the private key files the configuration reads.
func (o *Output) KeyFiles() []string {
	var out []string
	for _, r := range o.Resources {
		if r.KeyFile != "" {
			out = append(out, r.KeyFile)
		}
	}
	return out
}

// Render writes s as HCL. The output depends only on s, so the same zone
// exports the same text.
func Render(s *Snapshot) *Output {
	r := &renderer{f: hclwrite.NewEmptyFile(), names: map[string]bool{}, out: &Output{}}
	body := r.f.Body()
	r.header(s)

	tf := body.AppendNewBlock("terraform", nil).Body()
	req := tf.AppendNewBlock("required_providers", nil).Body()
	req.SetAttributeRaw("cloudflare", hclwrite.TokensForObject([]hclwrite.ObjectAttrTokens{
		{Name: hclwrite.TokensForIdentifier("source"), Value: hclwrite.TokensForValue(cty.StringVal("cloudflare/cloudflare"))},
		{Name: hclwrite.TokensForIdentifier("version"), Value: hclwrite.TokensForValue(cty.StringVal(ProviderConstraint))},
	}))
	body.AppendNewline()

	if needsKeyDir(s) {
		v := body.AppendNewBlock("variable", []string{KeyDirVariable}).Body()
		v.SetAttributeRaw("type", hclwrite.TokensForIdentifier("string"))
		v.SetAttributeValue("description", cty.StringVal(
			"Directory holding the private key of each uploaded certificate (the files named in the key file comments); Cloudflare never returns keys."))
		body.AppendNewline()
	}

	loc := body.AppendNewBlock("locals", nil).Body()
	loc.SetAttributeValue("zone_id", cty.StringVal(s.Zone.ID))
	if len(s.Policies) > 0 {
		loc.SetAttributeValue("account_id", cty.StringVal(s.Zone.AccountID))
	}

	r.zoneSetting(s, "ssl", s.SSLMode)
	r.zoneSetting(s, "tls_client_auth", s.TLSClientAuth)
	if !s.OmitZoneAOP {
		r.resource(TypeZoneSettings, r.label("zone"), s.Zone.ID, "", "zone-level AOP: Cloudflare presents the newest active zone-level certificate for every proxied hostname",
			func(b *hclwrite.Body) {
				b.SetAttributeTraversal("zone_id", localRef("zone_id"))
				b.SetAttributeValue("enabled", cty.BoolVal(s.ZoneAOP))
			})
	}
	for _, c := range s.ZoneCerts {
		r.certificate(s, TypeZoneCert, "zone", c)
	}
	hostCert := map[string]string{}
	for _, c := range s.HostCerts {
		hostCert[c.ID] = r.certificate(s, TypeHostnameCert, "hostname", c)
	}
	for _, a := range s.Associations {
		r.association(s, a, hostCert)
	}
	for _, p := range s.Policies {
		r.policy(p)
	}
	if s.PoliciesUnread {
		body.AppendUnstructuredTokens(comment("Notification policies were not exported: the API token cannot read them (Notifications Read)."))
	}
	r.out.HCL = hclwrite.Format(r.f.Bytes())
	return r.out
}

// needsKeyDir: a variable without a default must be given on every plan,
// so it is declared only when a certificate reads its key from it.
func needsKeyDir(s *Snapshot) bool {
	if len(s.KeyPaths) == 0 {
		return true
	}
	for _, c := range append(slices.Clone(s.ZoneCerts), s.HostCerts...) {
		if _, ok := s.KeyPaths[c.ID]; !ok {
			return true
		}
	}
	return false
}

type renderer struct {
	f     *hclwrite.File
	names map[string]bool
	out   *Output
}

func (r *renderer) header(s *Snapshot) {
	keys := "var." + KeyDirVariable
	if !needsKeyDir(s) {
		keys = "the rollout's key files"
	}
	r.f.Body().AppendUnstructuredTokens(comment(fmt.Sprintf(
		"Authenticated Origin Pulls of zone %s (%s), exported by aopwizard.\n"+
			"Terraform 1.5 or later imports each existing object on the first plan (import blocks); review that plan:\n"+
			"it must show imports and no replacement. Private keys are read from %s; the provider keeps\n"+
			"them in its state, which must be stored as a secret.", s.Zone.Name, s.Zone.ID, keys)))
	r.f.Body().AppendNewline()
}

// comment renders text as # lines.
func comment(text string) hclwrite.Tokens {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		b.WriteString("# " + line + "\n")
	}
	return hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(b.String())}}
}

// label makes a unique resource name from base: letters, digits and
// underscores, not starting with a digit.
func (r *renderer) label(base string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(base) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	name := strings.Trim(b.String(), "_")
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "aop_" + name
	}
	cand := name
	for i := 2; r.names[cand]; i++ {
		cand = fmt.Sprintf("%s_%d", name, i)
	}
	r.names[cand] = true
	return cand
}

// resource appends an import block (when importID is set) and the resource
// block, and records it.
func (r *renderer) resource(typ, name, importID, keyFile, note string, fill func(*hclwrite.Body)) string {
	body := r.f.Body()
	body.AppendNewline()
	if note != "" {
		body.AppendUnstructuredTokens(comment(note))
	}
	if importID != "" {
		imp := body.AppendNewBlock("import", nil).Body()
		imp.SetAttributeTraversal("to", hcl.Traversal{hcl.TraverseRoot{Name: typ}, hcl.TraverseAttr{Name: name}})
		imp.SetAttributeValue("id", cty.StringVal(importID))
	}
	fill(body.AppendNewBlock("resource", []string{typ, name}).Body())
	r.out.Resources = append(r.out.Resources, Resource{Type: typ, Name: name, ImportID: importID, KeyFile: keyFile})
	return name
}

func localRef(name string) hcl.Traversal {
	return hcl.Traversal{hcl.TraverseRoot{Name: "local"}, hcl.TraverseAttr{Name: name}}
}

func (r *renderer) zoneSetting(s *Snapshot, id, value string) {
	if value == "" {
		return
	}
	note := "SSL/TLS encryption mode: AOP needs full, strict or origin_pull"
	if id == "tls_client_auth" {
		note = "global AOP: Cloudflare's shared certificate, for hostnames no other level covers"
	}
	r.resource(TypeZoneSetting, r.label(id), s.Zone.ID+"/"+id, "", note, func(b *hclwrite.Body) {
		b.SetAttributeTraversal("zone_id", localRef("zone_id"))
		b.SetAttributeValue("setting_id", cty.StringVal(id))
		b.SetAttributeValue("value", cty.StringVal(value))
	})
}

// certificate writes a zone-level or hostname certificate; its key is read
// from the key directory, in a file named after the resource, or from the
// file s.KeyPaths names.
func (r *renderer) certificate(s *Snapshot, typ, kind string, c cfapi.Certificate) string {
	id := strings.ReplaceAll(c.ID, "-", "")
	name := r.label(kind + "_" + id[:min(8, len(id))])
	keyFile, keyArg := name+".key", hclwrite.Tokens(nil)
	if p, ok := s.KeyPaths[c.ID]; ok {
		// TokensForValue escapes "${" and "%{", so any path stays literal.
		keyFile, keyArg = "", hclwrite.TokensForValue(cty.StringVal(p))
	} else {
		keyArg = keyPath(keyFile)
	}
	note := fmt.Sprintf("%s certificate %s: status %s", kind, c.ID, c.Status)
	if !c.ExpiresOn.IsZero() {
		note += ", expires " + c.ExpiresOn.UTC().Format(time.DateOnly)
	}
	if keyFile != "" {
		note += "; key file " + keyFile
	}
	return r.resource(typ, name, s.Zone.ID+"/"+c.ID, keyFile, note, func(b *hclwrite.Body) {
		b.SetAttributeTraversal("zone_id", localRef("zone_id"))
		b.SetAttributeValue("certificate", cty.StringVal(c.PEM))
		b.SetAttributeRaw("private_key", hclwrite.TokensForFunctionCall("file", keyArg))
		b.AppendNewline()
		// Cloudflare never returns keys, so an imported certificate's key
		// always differs from the state (docs/cloudflare-api.md,
		// "Terraform v5 resources").
		b.AppendNewBlock("lifecycle", nil).Body().SetAttributeRaw("ignore_changes",
			hclwrite.TokensForTuple([]hclwrite.Tokens{hclwrite.TokensForIdentifier("private_key")}))
	})
}

// keyPath is the template "${var.aop_key_dir}/<file>"; file is a resource
// label plus ".key", so it holds no quote, "$" or "%".
func keyPath(file string) hclwrite.Tokens {
	toks := hclwrite.Tokens{
		{Type: hclsyntax.TokenOQuote, Bytes: []byte(`"`)},
		{Type: hclsyntax.TokenTemplateInterp, Bytes: []byte(`${`)},
	}
	toks = append(toks, hclwrite.TokensForTraversal(hcl.Traversal{hcl.TraverseRoot{Name: "var"}, hcl.TraverseAttr{Name: KeyDirVariable}})...)
	return append(toks,
		&hclwrite.Token{Type: hclsyntax.TokenTemplateSeqEnd, Bytes: []byte(`}`)},
		&hclwrite.Token{Type: hclsyntax.TokenQuotedLit, Bytes: []byte("/" + file)},
		&hclwrite.Token{Type: hclsyntax.TokenCQuote, Bytes: []byte(`"`)},
	)
}

// association writes one hostname's association: the provider takes one
// hostname per resource and voids it on destroy.
func (r *renderer) association(s *Snapshot, a cfapi.HostnameStatus, hostCert map[string]string) {
	note := fmt.Sprintf("association of %s with certificate %s (status %s)", a.Hostname, a.CertID, a.Status)
	certID := hclwrite.TokensForValue(cty.StringVal(a.CertID))
	if name, ok := hostCert[a.CertID]; ok {
		certID = hclwrite.TokensForTraversal(hcl.Traversal{hcl.TraverseRoot{Name: TypeHostnameCert}, hcl.TraverseAttr{Name: name}, hcl.TraverseAttr{Name: "id"}})
	} else {
		note += "; the certificate no longer exists, so Cloudflare cannot present it"
	}
	r.resource(TypeAssociation, r.label(a.Hostname), s.Zone.ID+"/"+a.Hostname, "", note, func(b *hclwrite.Body) {
		b.SetAttributeTraversal("zone_id", localRef("zone_id"))
		b.SetAttributeRaw("config", hclwrite.TokensForTuple([]hclwrite.Tokens{hclwrite.TokensForObject([]hclwrite.ObjectAttrTokens{
			{Name: hclwrite.TokensForIdentifier("cert_id"), Value: certID},
			{Name: hclwrite.TokensForIdentifier("enabled"), Value: hclwrite.TokensForValue(cty.BoolVal(a.Enabled != nil && *a.Enabled))},
			{Name: hclwrite.TokensForIdentifier("hostname"), Value: hclwrite.TokensForValue(cty.StringVal(a.Hostname))},
		})}))
	})
}

// policy writes an expiry alert. docs/cloudflare-api.md, "Terraform v5
// resources", gives no import ID for notification policies, so none is
// written: import it by hand or let Terraform manage a new one and delete
// the old.
func (r *renderer) policy(p cfapi.AlertPolicy) {
	note := fmt.Sprintf("notification policy %s (%s); no import ID is documented for this type: import it by hand, or delete the existing policy after the first apply", p.ID, p.AlertType)
	r.resource(TypePolicy, r.label("expiry_"+strings.TrimSuffix(strings.TrimSuffix(p.AlertType, "_type"), "_custom_certificate_expiration")), "", "", note, func(b *hclwrite.Body) {
		b.SetAttributeTraversal("account_id", localRef("account_id"))
		b.SetAttributeValue("name", cty.StringVal(p.Name))
		b.SetAttributeValue("alert_type", cty.StringVal(p.AlertType))
		b.SetAttributeValue("enabled", cty.BoolVal(p.Enabled))
		emails := make([]hclwrite.Tokens, 0, len(p.Emails))
		for _, e := range p.Emails {
			emails = append(emails, hclwrite.TokensForObject([]hclwrite.ObjectAttrTokens{
				{Name: hclwrite.TokensForIdentifier("id"), Value: hclwrite.TokensForValue(cty.StringVal(e))},
			}))
		}
		b.SetAttributeRaw("mechanisms", hclwrite.TokensForObject([]hclwrite.ObjectAttrTokens{
			{Name: hclwrite.TokensForIdentifier("email"), Value: hclwrite.TokensForTuple(emails)},
		}))
	})
}
