package cfsim_test

import (
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// TestRealisticSequenceMatchesSpec runs the wizard's call sequence
// (docs/cloudflare-api.md, "Call sequence"), including the failures it
// must handle, through the
// contract middleware: every request and response must match the spec.
func TestRealisticSequenceMatchesSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{DeployAfter: 2})
	acct := e.sim.AccountID()
	e.call("GET", "/user/tokens/verify", nil).want(t, 200, 0)
	e.call("GET", "/zones?name=example.com&per_page=5", nil).want(t, 200, 0)
	e.call("GET", e.zpath(""), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/settings/ssl"), nil).want(t, 200, 0)
	e.call("PATCH", e.zpath("/settings/ssl"), map[string]string{"value": "strict"}).want(t, 200, 0)
	e.call("PATCH", e.zpath("/settings/ssl"), map[string]string{"value": "origin_pull"}).want(t, 200, 0)
	e.call("GET", e.zpath("/settings/tls_client_auth"), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/settings"), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth"), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/certificates"), nil).want(t, 200, 0)

	ca := newCA(t, "example.com")
	body, _ := leaf(t, ca, "example.com")
	var zc certResult
	e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 200, 0).result(t, &zc)
	e.call("POST", e.zpath("/origin_tls_client_auth"), body).want(t, 400, cfsim.CodeDuplicate)
	for range 2 {
		e.call("GET", e.zpath("/origin_tls_client_auth/"+zc.ID), nil).want(t, 200, 0)
	}
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": true}).want(t, 200, 0)

	hbody, _ := leaf(t, ca, "app.example.com")
	var hc certResult
	e.call("POST", e.zpath("/origin_tls_client_auth/hostnames/certificates"), hbody).want(t, 200, 0).result(t, &hc)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/certificates/"+hc.ID), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/certificates"), nil).want(t, 200, 0)
	cfg := func(en any) map[string]any {
		return map[string]any{"config": []map[string]any{{"hostname": "app.example.com", "cert_id": hc.ID, "enabled": en}}}
	}
	e.call("PUT", e.zpath("/origin_tls_client_auth/hostnames"), cfg(true)).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/app.example.com"), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames?status=all&per_page=100"), nil).want(t, 200, 0)
	e.call("DELETE", e.zpath("/origin_tls_client_auth/hostnames/certificates/"+hc.ID), nil).want(t, 400, cfsim.CodeCertAssociated)
	e.call("PUT", e.zpath("/origin_tls_client_auth/hostnames"), cfg(false)).want(t, 200, 0)
	e.call("PUT", e.zpath("/origin_tls_client_auth/hostnames"), cfg(nil)).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/hostnames/app.example.com"), nil).want(t, 200, 0)
	e.call("DELETE", e.zpath("/origin_tls_client_auth/hostnames/certificates/"+hc.ID), nil).want(t, 200, 0)

	e.call("PATCH", e.zpath("/settings/tls_client_auth"), map[string]string{"value": "on"}).want(t, 200, 0)
	e.call("PUT", e.zpath("/origin_tls_client_auth/settings"), map[string]bool{"enabled": false}).want(t, 200, 0)
	e.call("DELETE", e.zpath("/origin_tls_client_auth/"+zc.ID), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/"+zc.ID), nil).want(t, 200, 0)
	e.call("GET", e.zpath("/origin_tls_client_auth/00000000-0000-4000-8000-000000000000"), nil).want(t, 404, cfsim.CodeNotFound)

	policy := map[string]any{
		"name": "AOP zone certificate expiry (example.com)", "description": "Created by aopwizard",
		"alert_type": "zone_aop_custom_certificate_expiration_type", "enabled": true,
		"mechanisms": map[string]any{"email": []map[string]string{{"id": "ops@example.com"}}},
	}
	var pol struct{ ID string }
	e.call("POST", "/accounts/"+acct+"/alerting/v3/policies", policy).want(t, 200, 0).result(t, &pol)
	e.call("GET", "/accounts/"+acct+"/alerting/v3/policies", nil).want(t, 200, 0)
	e.call("GET", "/accounts/"+acct+"/alerting/v3/policies/"+pol.ID, nil).want(t, 200, 0)
	policy["enabled"] = false
	e.call("PUT", "/accounts/"+acct+"/alerting/v3/policies/"+pol.ID, policy).want(t, 200, 0)
	e.call("DELETE", "/accounts/"+acct+"/alerting/v3/policies/"+pol.ID, nil).want(t, 200, 0)
}
