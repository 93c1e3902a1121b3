package cfsim_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

var (
	uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tsRE   = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$`)
)

func TestZoneLookup(t *testing.T) {
	t.Parallel()
	names := []string{"a.com", "b.com", "c.com", "d.com", "e.com", "f.com", "example.com"}
	e := newEnv(t, cfsim.Options{Zones: names})
	e.invalidRequests = true
	var zones []struct {
		ID, Name, Status, Type string
		Paused                 bool
		Account                struct{ ID, Name string }
		Plan                   map[string]any
		NameServers            []string `json:"name_servers"`
	}
	r := e.call("GET", "/zones?name=example.com", nil).want(t, 200, 0)
	r.result(t, &zones)
	z := zones[0]
	if len(zones) != 1 || z.Name != "example.com" || z.ID != e.sim.ZoneID("example.com") || len(z.ID) != 32 ||
		z.Status != "active" || z.Paused || z.Type != "full" || z.Account.ID != e.sim.AccountID() || z.Plan == nil || len(z.NameServers) == 0 {
		t.Fatalf("zone lookup result %+v", zones)
	}
	if ri := r.Env.ResultInfo; ri == nil || ri.Page != 1 || ri.PerPage != 20 || ri.Count != 1 || ri.TotalCount != 1 || ri.TotalPages != 1 {
		t.Fatalf("result_info %+v", r.Env.ResultInfo)
	}
	e.call("GET", "/zones?name=xample.com", nil).want(t, 200, 0).result(t, &zones)
	if len(zones) != 0 {
		t.Fatalf("name must match exactly, got %+v", zones)
	}
	r = e.call("GET", "/zones?per_page=5&page=2", nil).want(t, 200, 0)
	r.result(t, &zones)
	if ri := r.Env.ResultInfo; len(zones) != 2 || ri.Page != 2 || ri.Count != 2 || ri.TotalCount != 7 || ri.TotalPages != 2 {
		t.Fatalf("page 2 of 7 zones by 5: %d zones, %+v", len(zones), ri)
	}
	e.call("GET", "/zones?per_page=500", nil).want(t, 400, cfsim.CodeInvalidRequest)
	e.call("GET", "/zones/"+z.ID, nil).want(t, 200, 0)
	e.call("GET", "/zones/0123456789abcdef0123456789abcdef", nil).want(t, 404, cfsim.CodeNotFound)
	if cfsim.New(cfsim.Options{Zones: names}).ZoneID("a.com") != e.sim.ZoneID("a.com") {
		t.Fatal("zone IDs must be deterministic for a seed")
	}
}

func TestZoneSettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{SSLMode: "flexible"})
	e.invalidRequests = true
	type setting struct {
		ID         string
		Value      string
		Editable   bool
		ModifiedOn *string `json:"modified_on"`
	}
	var s setting
	e.call("GET", e.zpath("/settings/ssl"), nil).want(t, 200, 0).result(t, &s)
	if s.ID != "ssl" || s.Value != "flexible" || !s.Editable {
		t.Fatalf("initial ssl %+v", s)
	}
	for _, v := range []string{"off", "flexible", "full", "strict", "origin_pull"} {
		e.call("PATCH", e.zpath("/settings/ssl"), map[string]string{"value": v}).want(t, 200, 0).result(t, &s)
		if s.Value != v || s.ModifiedOn == nil || !tsRE.MatchString(*s.ModifiedOn) || e.sim.SSLMode("example.com") != v {
			t.Fatalf("after PATCH %s: %+v", v, s)
		}
	}
	r := e.call("PATCH", e.zpath("/settings/ssl"), map[string]string{"value": "strictest"}).want(t, 400, cfsim.CodeInvalidSettingValue)
	if !strings.Contains(r.message(), "origin_pull") {
		t.Fatalf("message should list the valid values: %q", r.message())
	}
	e.call("GET", e.zpath("/settings/tls_client_auth"), nil).want(t, 200, 0).result(t, &s)
	if s.Value != "off" || s.ModifiedOn != nil {
		t.Fatalf("initial tls_client_auth %+v", s)
	}
	e.call("PATCH", e.zpath("/settings/tls_client_auth"), map[string]string{"value": "on"}).want(t, 200, 0)
	if e.sim.TLSClientAuth("example.com") != "on" {
		t.Fatal("tls_client_auth not stored")
	}
	e.call("PATCH", e.zpath("/settings/tls_client_auth"), map[string]bool{"value": true}).want(t, 400, cfsim.CodeInvalidSettingValue)
	e.call("PATCH", e.zpath("/settings/ssl"), "{not json").want(t, 400, cfsim.CodeMalformedJSON)
	e.call("GET", e.zpath("/settings/brotli"), nil).want(t, 404, cfsim.CodeNotFound)

	var en struct{ Enabled bool }
	e.call("GET", e.zpath("/origin_tls_client_auth/settings"), nil).want(t, 200, 0).result(t, &en)
	if en.Enabled {
		t.Fatal("zone-level AOP must be disabled by default")
	}
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": true}).want(t, 200, 0).result(t, &en)
	if !en.Enabled || !e.sim.ZoneAOPEnabled("example.com") {
		t.Fatal("enablement not stored")
	}
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]any{}).want(t, 400, cfsim.CodeInvalidRequest)
}

func TestUploadRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	e.invalidRequests = true
	ca := newCA(t, "example.com")
	good, p := leaf(t, ca, "example.com")
	caKey, _ := ca.KeyPEM()
	_, other := leaf(t, ca, "other.example.com")
	otherKey, _ := other.KeyPEM()
	cases := []struct {
		name string
		body any
		code int
		msg  string
	}{
		{"CA instead of leaf", map[string]string{"certificate": string(ca.CertPEM()), "private_key": string(caKey)}, cfsim.CodeMissingLeaf, "missing leaf certificate"},
		{"key of another cert", map[string]string{"certificate": good["certificate"], "private_key": string(otherKey)}, cfsim.CodeKeyMismatch, "does not match"},
		{"no key", map[string]string{"certificate": good["certificate"]}, cfsim.CodeInvalidRequest, "private_key is required"},
		{"no certificate", map[string]string{"private_key": good["private_key"]}, cfsim.CodeInvalidRequest, "certificate is required"},
		{"garbage certificate", map[string]string{"certificate": "hello", "private_key": good["private_key"]}, cfsim.CodeInvalidCert, "not a PEM"},
		{"malformed JSON", `{"certificate":`, cfsim.CodeMalformedJSON, "Malformed JSON"},
	}
	for _, path := range []string{"/origin_tls_client_auth", "/origin_tls_client_auth/hostnames/certificates"} {
		for _, c := range cases {
			r := e.call("POST", e.zpath(path), c.body)
			if r.Status != 400 || r.code() != c.code || !strings.Contains(r.message(), c.msg) {
				t.Errorf("%s %s: %d code %d %q, want 400 code %d containing %q", path, c.name, r.Status, r.code(), r.message(), c.code, c.msg)
			}
		}
	}
	if n := e.sim.Uploads("example.com"); n != 0 {
		t.Fatalf("rejected uploads counted: %d", n)
	}

	// A chain with the leaf after its CA is accepted: the leaf is found.
	var c certResult
	chain := map[string]string{"certificate": string(ca.CertPEM()) + good["certificate"], "private_key": good["private_key"]}
	r := e.call("POST", e.zpath("/origin_tls_client_auth"), chain).want(t, 200, 0)
	r.result(t, &c)
	if !uuidRE.MatchString(c.ID) || !tsRE.MatchString(c.UploadedOn) || !tsRE.MatchString(c.ExpiresOn) || c.Status != "active" ||
		c.PrivateKey != nil || strings.Contains(string(r.Raw), "PRIVATE KEY") || c.Issuer != ca.Cert.Subject.String() ||
		c.Signature != "ECDSAWithSHA256" || c.Certificate != string(p.CertPEM()) {
		t.Fatalf("upload result %+v", c)
	}
	r = e.call("POST", e.zpath("/origin_tls_client_auth"), good).want(t, 400, cfsim.CodeDuplicate)
	if r.message() != "This certificate already exists for this zone." {
		t.Fatalf("duplicate message %q", r.message())
	}
	// The same certificate may still be uploaded at the other level.
	var hc certResult
	e.call("POST", e.zpath("/origin_tls_client_auth/hostnames/certificates"), good).want(t, 200, 0).result(t, &hc)
	if hc.SerialNumber != p.Cert.SerialNumber.String() {
		t.Fatalf("serial_number %q, want decimal %s", hc.SerialNumber, p.Cert.SerialNumber)
	}
	if n := e.sim.Uploads("example.com"); n != 2 {
		t.Fatalf("Uploads = %d, want 2", n)
	}
	// Never logged: private keys and the token.
	for _, req := range e.sim.Requests() {
		if strings.Contains(req.Body, "PRIVATE KEY") || strings.Contains(req.Body, e.token) || strings.Contains(req.Query, e.token) {
			t.Fatalf("request log leaks a secret: %+v", req)
		}
	}
}

// TestEncryptedKeysRejected uses the real openssl CLI to make both
// encrypted key formats Cloudflare refuses.
func TestEncryptedKeysRejected(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed: cannot make encrypted keys")
	}
	e := newEnv(t, cfsim.Options{})
	body, _ := leaf(t, newCA(t, "example.com"), "example.com")
	dir := t.TempDir()
	plain := filepath.Join(dir, "k.pem")
	if err := os.WriteFile(plain, []byte(body["private_key"]), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"pkcs8": {"pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", plain, "-passout", "pass:secret"},
		"sec1":  {"ec", "-aes256", "-in", plain, "-passout", "pass:secret"},
	} {
		out, err := exec.Command("openssl", args...).Output()
		if err != nil {
			t.Fatalf("openssl %s: %v", name, err)
		}
		r := e.call("POST", e.zpath("/origin_tls_client_auth"), map[string]string{"certificate": body["certificate"], "private_key": string(out)})
		if r.Status != 400 || r.code() != cfsim.CodeEncryptedKey || r.message() != "You cannot upload a custom certificate with a password-protected key file" {
			t.Errorf("%s: %d %s", name, r.Status, r.Raw)
		}
	}
}

func TestDeploymentLifecycle(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		opts    cfsim.Options
		want    []string // upload answer, then after each GET
		deleted []string // delete answer, then after each GET
	}{
		{"instant", cfsim.Options{}, []string{"active", "active"}, []string{"pending_deletion", "deleted"}},
		{"after 3", cfsim.Options{DeployAfter: 3}, []string{"initializing", "pending_deployment", "pending_deployment", "active", "active"},
			[]string{"pending_deletion", "pending_deletion", "pending_deletion", "deleted"}},
		{"timeout", cfsim.Options{DeployAfter: 1, DeployTimeout: true}, []string{"initializing", "deployment_timed_out"}, []string{"pending_deletion", "deleted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.opts)
			body, _ := leaf(t, newCA(t, "example.com"), "example.com")
			var cr certResult
			e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 200, 0).result(t, &cr)
			got := []string{cr.Status}
			for range len(c.want) - 1 {
				e.call("GET", e.zpath("/origin_tls_client_auth/"+cr.ID), nil).want(t, 200, 0).result(t, &cr)
				got = append(got, cr.Status)
			}
			e.call("DELETE", e.zpath("/origin_tls_client_auth/"+cr.ID), nil).want(t, 200, 0).result(t, &cr)
			del := []string{cr.Status}
			for range len(c.deleted) - 1 {
				var list []certResult
				e.call("GET", e.zpath("/origin_tls_client_auth"), nil).want(t, 200, 0).result(t, &list)
				del = append(del, list[0].Status)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) || fmt.Sprint(del) != fmt.Sprint(c.deleted) {
				t.Fatalf("statuses %v then %v, want %v then %v", got, del, c.want, c.deleted)
			}
			// Re-uploading a deleted certificate is not a duplicate.
			e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 200, 0)
			e.call("GET", e.zpath("/origin_tls_client_auth/0b9b2a36-0000-4000-8000-000000000000"), nil).want(t, 404, cfsim.CodeNotFound)
		})
	}
}

func TestHostnameRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	e.invalidRequests = true
	ca := newCA(t, "example.com")
	var ids []string
	for i := range cfsim.MaxHostnameCerts {
		body, _ := leaf(t, ca, fmt.Sprintf("h%d.example.com", i))
		var c certResult
		e.call("POST", e.zpath("/origin_tls_client_auth/hostnames/certificates"), body).want(t, 200, 0).result(t, &c)
		ids = append(ids, c.ID)
	}
	eleventh, _ := leaf(t, ca, "h10.example.com")
	e.call("POST", e.zpath("/origin_tls_client_auth/hostnames/certificates"), eleventh).want(t, 400, cfsim.CodeHostnameCertLimit)
	var list []certResult
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/certificates"), nil).want(t, 200, 0).result(t, &list)
	if len(list) != cfsim.MaxHostnameCerts {
		t.Fatalf("list has %d hostname certificates", len(list))
	}
	var zc certResult
	zbody, _ := leaf(t, ca, "example.com")
	e.call("POST", e.zpath("/origin_tls_client_auth"), zbody).want(t, 200, 0).result(t, &zc)

	put := func(entries ...map[string]any) *apiResp {
		return e.call("PUT", e.zpath("/origin_tls_client_auth/hostnames"), map[string]any{"config": entries})
	}
	entry := func(host, id string, en any) map[string]any {
		return map[string]any{"hostname": host, "cert_id": id, "enabled": en}
	}
	put(entry("app.example.com", zc.ID, true)).want(t, 400, cfsim.CodeNotHostnameCert)
	put(entry("app.example.org", ids[0], true)).want(t, 400, cfsim.CodeHostnameNotInZone)
	put(map[string]any{"hostname": "app.example.com", "cert_id": ids[0]}).want(t, 400, cfsim.CodeInvalidRequest)
	put(map[string]any{"cert_id": ids[0], "enabled": true}).want(t, 400, cfsim.CodeInvalidRequest)
	put(map[string]any{"hostname": "app.example.com", "enabled": nil}).want(t, 400, cfsim.CodeInvalidRequest)

	var res []assocResult
	put(entry("app.example.com", ids[0], true), entry("api.example.com", ids[0], false)).want(t, 200, 0).result(t, &res)
	if len(res) != 2 || res[0].Hostname != "app.example.com" || res[0].CertID != ids[0] || res[0].Enabled == nil || !*res[0].Enabled ||
		res[0].Status != "active" || res[0].CertStatus != "active" || res[0].Serial == "" || res[1].Enabled == nil || *res[1].Enabled {
		t.Fatalf("PUT result %+v", res)
	}
	var one assocResult
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/app.example.com"), nil).want(t, 200, 0).result(t, &one)
	if one.CertID != ids[0] || !*one.Enabled {
		t.Fatalf("GET hostname %+v", one)
	}
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/nope.example.com"), nil).want(t, 404, cfsim.CodeNotFound)

	// 100 hostnames per certificate; the 101st fails and the request
	// changes nothing.
	var many []map[string]any
	for i := range cfsim.MaxHostnamesPerCert - 1 { // app.example.com is the first
		many = append(many, entry(fmt.Sprintf("n%d.example.com", i), ids[1], true))
	}
	put(many...).want(t, 200, 0)
	many = append(many, entry("app.example.com", ids[1], true), entry("extra.example.com", ids[1], true))
	put(many...).want(t, 400, cfsim.CodeAssociationLimit)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/extra.example.com"), nil).want(t, 404, cfsim.CodeNotFound)

	// Deleting needs the association voided first; enabled:false is not
	// enough.
	r := e.call("DELETE", e.zpath("/origin_tls_client_auth/hostnames/certificates/"+ids[0]), nil).want(t, 400, cfsim.CodeCertAssociated)
	if !strings.Contains(r.message(), "enabled null") {
		t.Fatalf("the refusal should say how to proceed: %q", r.message())
	}
	put(entry("app.example.com", ids[0], false)).want(t, 200, 0)
	e.call("DELETE", e.zpath("/origin_tls_client_auth/hostnames/certificates/"+ids[0]), nil).want(t, 400, cfsim.CodeCertAssociated)
	put(entry("app.example.com", ids[0], nil), entry("api.example.com", ids[0], nil)).want(t, 200, 0).result(t, &res)
	if res[0].Enabled != nil {
		t.Fatalf("voiding answers enabled null, got %v", *res[0].Enabled)
	}
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/app.example.com"), nil).want(t, 200, 0).result(t, &one)
	if one.Enabled == nil || *one.Enabled || one.Status != "deleted" {
		t.Fatalf("a voided association reads back as enabled:false/deleted, got %+v", one)
	}
	e.call("DELETE", e.zpath("/origin_tls_client_auth/hostnames/certificates/"+ids[0]), nil).want(t, 200, 0)
	// A deleted certificate frees a slot.
	e.call("POST", e.zpath("/origin_tls_client_auth/hostnames/certificates"), eleventh).want(t, 200, 0)

	// The hidden list: active associations by default, all on request.
	var active, all []assocResult
	r = e.call("GET", e.zpath("/origin_tls_client_auth/hostnames?per_page=1000"), nil).want(t, 200, 0)
	r.result(t, &active)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames?status=all&per_page=1000"), nil).want(t, 200, 0).result(t, &all)
	if len(active) != cfsim.MaxHostnamesPerCert-1 || len(all) != cfsim.MaxHostnamesPerCert+1 || r.Env.ResultInfo.TotalCount != len(active) {
		t.Fatalf("hidden list: %d active, %d all", len(active), len(all))
	}
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames?per_page=1001"), nil).want(t, 400, cfsim.CodeInvalidRequest)
	if got := e.sim.Associations("example.com"); len(got) != cfsim.MaxHostnamesPerCert+1 {
		t.Fatalf("Associations() has %d", len(got))
	}
}

func TestAlertPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{})
	e.invalidRequests = true
	base := "/accounts/" + e.sim.AccountID() + "/alerting/v3/policies"
	valid := func() map[string]any {
		return map[string]any{"name": "AOP expiry", "alert_type": "hostname_aop_custom_certificate_expiration_type", "enabled": true,
			"mechanisms": map[string]any{"email": []map[string]string{{"id": "ops@example.com"}}}}
	}
	for _, c := range []struct {
		name string
		drop string
		set  map[string]any
		code int
	}{
		{"unknown alert type", "", map[string]any{"alert_type": "aop_magic"}, cfsim.CodeInvalidAlertType},
		{"no name", "name", nil, cfsim.CodeInvalidRequest},
		{"no enabled", "enabled", nil, cfsim.CodeInvalidRequest},
		{"no mechanisms", "mechanisms", nil, cfsim.CodeInvalidRequest},
		{"empty mechanisms", "", map[string]any{"mechanisms": map[string]any{}}, cfsim.CodeInvalidRequest},
		{"bad mechanism", "", map[string]any{"mechanisms": map[string]any{"carrier_pigeon": []map[string]string{{"id": "x"}}}}, cfsim.CodeInvalidRequest},
	} {
		b := valid()
		delete(b, c.drop)
		for k, v := range c.set {
			b[k] = v
		}
		if r := e.call("POST", base, b); r.Status != 400 || r.code() != c.code {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Raw)
		}
	}
	var created struct{ ID string }
	e.call("POST", base, valid()).want(t, 200, 0).result(t, &created)
	zone := valid()
	zone["alert_type"] = "zone_aop_custom_certificate_expiration_type"
	e.call("POST", base, zone).want(t, 200, 0)
	var list []struct {
		ID, Name  string
		AlertType string `json:"alert_type"`
		Enabled   bool
	}
	e.call("GET", base, nil).want(t, 200, 0).result(t, &list)
	if len(list) != 2 || list[0].ID != created.ID || list[0].AlertType != "hostname_aop_custom_certificate_expiration_type" {
		t.Fatalf("list %+v", list)
	}
	upd := valid()
	upd["enabled"] = false
	e.call("PUT", base+"/"+created.ID, upd).want(t, 200, 0)
	if p := e.sim.Policies(); len(p) != 2 || p[0].Enabled {
		t.Fatalf("update not stored: %+v", p)
	}
	e.call("DELETE", base+"/"+created.ID, nil).want(t, 200, 0)
	e.call("GET", base+"/"+created.ID, nil).want(t, 404, cfsim.CodeNotFound)
}
