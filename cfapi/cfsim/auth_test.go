package cfsim_test

import (
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	const key = "0123456789abcdef0123456789abcdef01234" // 37 lower-case hex, like a pre-2026 global key
	e := newEnv(t, cfsim.Options{APIKey: key, Email: "ops@example.com"})
	e.invalidRequests = true
	acct := e.sim.AccountID()
	cases := []struct {
		name         string
		path         string
		hdr          []string
		status, code int
		chain        int
		msg          string
	}{
		{"no credentials", "/zones", []string{"Authorization", ""}, 400, cfsim.CodeMissingAuth, 0, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"},
		{"not bearer", "/zones", []string{"Authorization", "Token " + e.token}, 400, cfsim.CodeInvalidHeaders, cfsim.CodeBadAuthorization, "Invalid request headers"},
		{"bearer with space", "/zones", []string{"Authorization", "Bearer a b"}, 400, cfsim.CodeInvalidHeaders, cfsim.CodeBadAuthorization, "Invalid request headers"},
		{"empty bearer", "/zones", []string{"Authorization", "Bearer "}, 400, cfsim.CodeInvalidHeaders, cfsim.CodeBadAuthorization, "Invalid request headers"},
		{"wrong token", "/zones", []string{"Authorization", "Bearer cfut_wrong"}, 403, cfsim.CodeInvalidAccessToken, 0, "Invalid access token"},
		{"wrong token verify", "/user/tokens/verify", []string{"Authorization", "Bearer cfut_wrong"}, 401, cfsim.CodeInvalidToken, 0, "Invalid API Token"},
		{"user token on account verify", "/accounts/" + acct + "/tokens/verify", nil, 401, cfsim.CodeInvalidToken, 0, "Invalid API Token"},
		{"legacy key", "/zones", []string{"Authorization", "", "X-Auth-Key", key, "X-Auth-Email", "ops@example.com"}, 200, 0, 0, ""},
		{"legacy key wrong", "/zones", []string{"Authorization", "", "X-Auth-Key", "f123456789abcdef0123456789abcdef01234", "X-Auth-Email", "ops@example.com"}, 403, cfsim.CodeUnknownKey, 0, "Unknown X-Auth-Key or X-Auth-Email"},
		{"legacy key malformed", "/zones", []string{"Authorization", "", "X-Auth-Key", "not a key", "X-Auth-Email", "ops@example.com"}, 400, cfsim.CodeInvalidHeaders, cfsim.CodeBadAuthKey, "Invalid request headers"},
		{"legacy key without email", "/zones", []string{"Authorization", "", "X-Auth-Key", key}, 400, cfsim.CodeMissingAuth, 0, ""},
		{"unknown route", "/zones/x/dns_records", nil, 404, cfsim.CodeNoRoute, 0, "No route for that URI"},
		{"unknown zone", "/zones/023e105f4ecef8ad9ca31a8372d0c353/settings/ssl", nil, 404, cfsim.CodeNotFound, 0, ""},
		{"wrong account", "/accounts/023e105f4ecef8ad9ca31a8372d0c353/alerting/v3/policies", nil, 403, cfsim.CodeAuthentication, 0, "Authentication error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call("GET", c.path, nil, c.hdr...).want(t, c.status, c.code)
			if c.msg != "" && r.message() != c.msg {
				t.Fatalf("message %q, want %q", r.message(), c.msg)
			}
			if c.chain != 0 && (len(r.Env.Errors[0].ErrorChain) != 1 || r.Env.Errors[0].ErrorChain[0].Code != c.chain) {
				t.Fatalf("error_chain %+v, want code %d", r.Env.Errors[0].ErrorChain, c.chain)
			}
			if r.Env.Result != nil && string(r.Env.Result) != "null" && c.code != 0 {
				t.Fatalf("failure result must be null: %s", r.Raw)
			}
		})
	}
	for _, v := range e.log.Violations() {
		if !strings.Contains(v, "dns_records") { // the deliberately unknown route is the only one outside the spec
			t.Error(v)
		}
	}
}

func TestTokenKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, token      string
		legacyAcct       bool
		userOK, accounOK bool
	}{
		{"user token", "cfut_abcdefghijklmnopqrstuvwxyz0123456789ABCD12345678", false, true, false},
		{"legacy user token", "abcdefghijklmnopqrstuvwxyz0123456789ABCD", false, true, false},
		{"account token", "cfat_abcdefghijklmnopqrstuvwxyz0123456789ABCD12345678", false, false, true},
		{"legacy account token", "abcdefghijklmnopqrstuvwxyz0123456789ABCD", true, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, cfsim.Options{Token: c.token, LegacyAccountToken: c.legacyAcct})
			want := func(ok bool) (int, int) {
				if ok {
					return 200, 0
				}
				return 401, cfsim.CodeInvalidToken
			}
			s, code := want(c.userOK)
			e.call("GET", "/user/tokens/verify", nil).want(t, s, code)
			s, code = want(c.accounOK)
			r := e.call("GET", "/accounts/"+e.sim.AccountID()+"/tokens/verify", nil).want(t, s, code)
			if c.accounOK {
				var v struct{ ID, Status string }
				r.result(t, &v)
				if v.Status != "active" || len(v.ID) != 32 {
					t.Fatalf("verify result %+v", v)
				}
			}
			// Zone lookups work for both kinds.
			e.call("GET", "/zones?name=example.com", nil).want(t, 200, 0)
		})
	}
	if tok := cfsim.New(cfsim.Options{}).Token(); len(tok) != len("cfut_")+40+8 || tok[:5] != "cfut_" {
		t.Fatalf("random token %q does not follow the cfut_ format", tok)
	}
}

func TestPermissionGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, cfsim.Options{
		Zones: []string{"example.com", "example.net", "hidden.org"},
		Scopes: map[string][]string{
			"example.com":      {cfsim.PermZoneRead, cfsim.PermSSLRead},
			"example.net":      {cfsim.PermSSLWrite, cfsim.PermZoneSettingsWrite},
			cfsim.AccountScope: {},
		},
	})
	com, net := "/zones/"+e.sim.ZoneID("example.com"), "/zones/"+e.sim.ZoneID("example.net")
	hidden := "/zones/" + e.sim.ZoneID("hidden.org")
	ca := newCA(t, "example.com")
	body, _ := leaf(t, ca, "example.com")
	cases := []struct {
		method, path string
		body         any
		status, code int
	}{
		{"GET", com + "/origin_tls_client_auth", nil, 200, 0},
		{"POST", com + "/origin_tls_client_auth", body, 403, cfsim.CodeAuthentication},
		{"GET", com + "/settings/ssl", nil, 403, cfsim.CodeAuthentication},
		{"PATCH", com + "/settings/ssl", map[string]string{"value": "strict"}, 403, cfsim.CodeAuthentication},
		{"GET", net + "/settings/ssl", nil, 200, 0},
		{"PATCH", net + "/settings/ssl", map[string]string{"value": "strict"}, 200, 0},
		{"POST", net + "/origin_tls_client_auth", body, 200, 0},
		{"GET", hidden + "/origin_tls_client_auth", nil, 404, cfsim.CodeNotFound},
		{"GET", "/accounts/" + e.sim.AccountID() + "/alerting/v3/policies", nil, 403, cfsim.CodeAuthentication},
	}
	for _, c := range cases {
		r := e.call(c.method, c.path, c.body)
		if r.Status != c.status || r.code() != c.code {
			t.Errorf("%s %s: %d code %d, want %d code %d", c.method, c.path, r.Status, r.code(), c.status, c.code)
		}
		if c.code == cfsim.CodeAuthentication && r.message() != "Authentication error" {
			t.Errorf("%s %s: message %q", c.method, c.path, r.message())
		}
	}
	var zones []struct{ Name string }
	e.call("GET", "/zones?per_page=50", nil).want(t, 200, 0).result(t, &zones)
	if len(zones) != 2 {
		t.Fatalf("a token scoped to two zones sees %v", zones)
	}
	if e.sim.Uploads("example.com") != 0 || e.sim.Uploads("example.net") != 1 {
		t.Fatalf("a forbidden upload changed state: %d %d", e.sim.Uploads("example.com"), e.sim.Uploads("example.net"))
	}
}
