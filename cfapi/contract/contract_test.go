package contract_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/contract"
)

const zone = "023e105f4ecef8ad9ca31a8372d0c353"

func req(t *testing.T, method, path, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, "http://127.0.0.1:1/client/v4"+path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func TestLoadAppliesEveryException(t *testing.T) {
	t.Parallel()
	if _, err := contract.Load(); err != nil {
		t.Fatal(err)
	}
	for _, ex := range contract.Exceptions {
		if ex.Name == "" || len(ex.Why) < 40 {
			t.Errorf("exception %q needs a name and a reason", ex.Name)
		}
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	v, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, body string
		ok                 bool
	}{
		{"PATCH", "/zones/" + zone + "/settings/ssl", `{"value":"strict"}`, true}, // exception setting-patch-body
		{"PATCH", "/zones/" + zone + "/settings/ssl", `{}`, false},
		{"PUT", "/zones/" + zone + "/origin_tls_client_auth/settings", `{"enabled":true}`, true},
		{"PUT", "/zones/" + zone + "/origin_tls_client_auth/settings", `{"enabled":"yes"}`, false},
		{"POST", "/zones/" + zone + "/origin_tls_client_auth", `{"certificate":"x"}`, false},
		{"DELETE", "/zones/" + zone + "/origin_tls_client_auth/2458ce5a-0c35-4c7f-82c7-8e9487d3ff60", "", true}, // uuid ids, no body
		{"PUT", "/zones/" + zone + "/origin_tls_client_auth/hostnames", `{"config":[{"hostname":"a.example.com","cert_id":"2458ce5a-0c35-4c7f-82c7-8e9487d3ff60","enabled":null}]}`, true},
		{"GET", "/accounts/" + zone + "/tokens/verify", "", true},                            // exception account-token-verify
		{"GET", "/zones/" + zone + "/origin_tls_client_auth/hostnames?status=all", "", true}, // hidden list
		{"GET", "/zones?per_page=51", "", false},
		{"GET", "/zones/" + zone + "/dns_records", "", false},
		{"POST", "/accounts/" + zone + "/alerting/v3/policies", `{"name":"n","alert_type":"zone_aop_custom_certificate_expiration_type","enabled":true,"mechanisms":{"email":[{"id":"ops@example.com"}]}}`, true},
		{"POST", "/accounts/" + zone + "/alerting/v3/policies", `{"name":"n","alert_type":"no_such_alert","enabled":true,"mechanisms":{}}`, false},
	}
	for _, c := range cases {
		err := v.ValidateRequest(req(t, c.method, c.path, c.body), []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%s %s %s: err %v, want ok=%v", c.method, c.path, c.body, err, c.ok)
		}
	}
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	v, err := contract.Load()
	if err != nil {
		t.Fatal(err)
	}
	cert := `{"id":"2458ce5a-0c35-4c7f-82c7-8e9487d3ff60","certificate":"-----BEGIN CERTIFICATE-----","issuer":"CN=x","signature":"ECDSAWithSHA256","expires_on":"2100-01-01T05:20:00Z","status":"%s","uploaded_on":"2019-10-28T18:11:23.37411Z"}`
	ok := func(result string) string {
		return `{"success":true,"errors":[],"messages":[],"result":` + result + `}`
	}
	cases := []struct {
		name, method, path string
		status             int
		body               string
		ok                 bool
	}{
		{"cert active", "GET", "/zones/" + zone + "/origin_tls_client_auth/hostnames/certificates/x", 200, ok(strings.Replace(cert, "%s", "active", 1)), true},
		{"cert expired is no status", "GET", "/zones/" + zone + "/origin_tls_client_auth/hostnames/certificates/x", 200, ok(strings.Replace(cert, "%s", "expired", 1)), false},
		{"ssl origin_pull", "GET", "/zones/" + zone + "/settings/ssl", 200, ok(`{"id":"ssl","value":"origin_pull","editable":true,"modified_on":null}`), true},
		{"ssl bogus", "GET", "/zones/" + zone + "/settings/ssl", 200, ok(`{"id":"ssl","value":"bogus","editable":true}`), false},
		{"no success", "GET", "/zones/" + zone + "/origin_tls_client_auth/settings", 200, `{"errors":[],"messages":[],"result":{"enabled":true}}`, false},
		{"failure envelope", "GET", "/zones/" + zone + "/origin_tls_client_auth/settings", 404, `{"success":false,"errors":[{"code":7003,"message":"no"}],"messages":[],"result":null}`, true},
		{"429 code 971", "GET", "/zones/" + zone + "/origin_tls_client_auth/settings", 429, `{"success":false,"errors":[{"code":971,"message":"Please wait"}],"messages":[],"result":null}`, true},
		{"failure claiming success", "GET", "/zones/" + zone + "/origin_tls_client_auth/settings", 400, `{"success":true,"errors":[{"code":1000,"message":"x"}],"messages":[],"result":null}`, false},
		{"5xx undocumented", "GET", "/zones/" + zone + "/origin_tls_client_auth/settings", 502, `<html>`, true},
	}
	for _, c := range cases {
		err := v.ValidateResponse(req(t, c.method, c.path, ""), c.status, jsonHeader, []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// TestTransportRecordsAndPassesThrough: violations are recorded, the
// client still gets the exact response.
func TestTransportRecordsAndPassesThrough(t *testing.T) {
	t.Parallel()
	const bad = `{"success":true,"errors":[],"messages":[],"result":{"enabled":"yes"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, bad)
	}))
	defer srv.Close()
	var log contract.Log
	client := &http.Client{Transport: contract.Transport(&log, nil)}
	r, _ := http.NewRequest("PUT", srv.URL+"/client/v4/zones/"+zone+"/origin_tls_client_auth/settings", strings.NewReader(`{"enabled":1}`))
	r.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != bad {
		t.Fatalf("body changed: %s", b)
	}
	got := log.Violations()
	if len(got) != 2 || !strings.Contains(got[0], "contract: request PUT") || !strings.Contains(got[1], "contract: response 200") {
		t.Fatalf("violations %q", got)
	}
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	var log contract.Log
	h := contract.Middleware(&log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/hostnames/certificates") { // a simulated reset
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{"enabled":false}}`)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/client/v4/zones/" + zone + "/origin_tls_client_auth/settings")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := http.Get(srv.URL + "/client/v4/zones/" + zone + "/origin_tls_client_auth/hostnames/certificates"); err == nil {
		t.Fatal("the hijacked request should fail")
	}
	if got := log.Violations(); len(got) != 0 {
		t.Fatalf("violations %q", got)
	}
}
