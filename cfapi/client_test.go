package cfapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
	"github.com/aopwizard/aopwizard/cfapi/contract"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"CLOUDFLARE_API_TOKEN": " cfut_tok \n", "CLOUDFLARE_API_KEY": "k", "CLOUDFLARE_EMAIL": "a@b.c",
		"CLOUDFLARE_BASE_URL": "http://127.0.0.1:1/client/v4",
	}
	cfg := cfapi.ConfigFromEnv(func(k string) string { return env[k] })
	if cfg.Token != "cfut_tok" || cfg.BaseURL != "http://127.0.0.1:1/client/v4" {
		t.Fatalf("ConfigFromEnv = %+v", cfg)
	}
	if cfg.Scheme() != cfapi.AuthToken {
		t.Errorf("token and key set: scheme %q, want the token", cfg.Scheme())
	}
	cfg.Token = ""
	if cfg.Scheme() != cfapi.AuthGlobalKey {
		t.Errorf("key+email: scheme %q", cfg.Scheme())
	}

	for _, tc := range []struct {
		name string
		cfg  cfapi.Config
		want string
	}{
		{"none", cfapi.Config{}, "CLOUDFLARE_API_TOKEN"},
		{"key without email", cfapi.Config{APIKey: "k"}, "must both be set"},
		{"token with Bearer", cfapi.Config{Token: "Bearer abc"}, "bare token"},
		{"relative base URL", cfapi.Config{Token: "t", BaseURL: "api.example/v4"}, "base URL"},
	} {
		_, err := cfapi.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

// The SDK's NewClient reads CLOUDFLARE_* and sends a token and a key
// together; cfapi must send exactly the scheme it chose.
func TestSendsExactlyOneCredentialScheme(t *testing.T) {
	t.Setenv("CLOUDFLARE_API_KEY", "0123456789abcdef0123456789abcdef01234")
	t.Setenv("CLOUDFLARE_EMAIL", "env@example.com")
	var mu sync.Mutex
	var seen []http.Header
	sim := cfsim.New(cfsim.Options{Zones: []string{zoneName}, APIKey: "0123456789abcdef0123456789abcdef01234", Email: "ops@example.com"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		sim.Handler().ServeHTTP(w, r)
	}))
	defer srv.Close()
	base := srv.URL + "/client/v4/"
	hc := &http.Client{Transport: contract.Transport(t, nil)}

	tok, err := cfapi.New(cfapi.Config{Token: sim.Token(), APIKey: "ignored", Email: "ignored@example.com", BaseURL: base, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.FindZone(ctxT(t), zoneName); err != nil {
		t.Fatal(err)
	}
	key, err := cfapi.New(cfapi.Config{APIKey: "0123456789abcdef0123456789abcdef01234", Email: "ops@example.com", BaseURL: base, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if key.Scheme() != cfapi.AuthGlobalKey {
		t.Fatalf("scheme %q", key.Scheme())
	}
	if info, err := key.VerifyToken(ctxT(t), ""); err != nil || info.Kind != cfapi.TokenGlobalKey {
		t.Fatalf("verify global key: %+v, %v", info, err)
	}

	if len(seen) != 2 {
		t.Fatalf("%d requests, want 2", len(seen))
	}
	if h := seen[0]; h.Get("Authorization") == "" || h.Get("X-Auth-Key") != "" || h.Get("X-Auth-Email") != "" {
		t.Errorf("token client sent Authorization=%t X-Auth-Key=%t X-Auth-Email=%t, want only Authorization",
			h.Get("Authorization") != "", h.Get("X-Auth-Key") != "", h.Get("X-Auth-Email") != "")
	}
	if h := seen[1]; h.Get("Authorization") != "" || h.Get("X-Auth-Email") != "ops@example.com" {
		t.Errorf("global key client sent Authorization=%t X-Auth-Email=%q, want only the key scheme from Config",
			h.Get("Authorization") != "", h.Get("X-Auth-Email"))
	}
}

func TestVerifyToken(t *testing.T) {
	t.Parallel()
	t.Run("user token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{}, nil)
		info, err := h.c.VerifyToken(ctxT(t), "")
		if err != nil || info.Kind != cfapi.TokenUser || info.Status != "active" || info.ID == "" {
			t.Fatalf("VerifyToken = %+v, %v", info, err)
		}
	})
	t.Run("account token needs the account ID", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Token: "cfat_AccountTokenForTestsOnly0123456789abcd"}, nil)
		if _, err := h.c.VerifyToken(ctxT(t), ""); !errors.Is(err, cfapi.ErrAccountIDNeeded) {
			t.Fatalf("without account: %v, want ErrAccountIDNeeded", err)
		}
		if len(h.sim.Requests()) != 0 {
			t.Errorf("a cfat_ token was sent to an endpoint before the account was known")
		}
		z, err := h.c.FindZone(ctxT(t), zoneName)
		if err != nil {
			t.Fatal(err)
		}
		info, err := h.c.VerifyToken(ctxT(t), z.AccountID)
		if err != nil || info.Kind != cfapi.TokenAccount {
			t.Fatalf("with account: %+v, %v", info, err)
		}
		if n := len(h.requests("GET", "/user/tokens/verify")); n != 0 {
			t.Errorf("cfat_ token checked on the user endpoint %d times", n)
		}
	})
	t.Run("legacy account token falls back", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Token: "LegacyUnprefixedToken0123456789abcdefABCD", LegacyAccountToken: true}, nil)
		_, err := h.c.VerifyToken(ctxT(t), "")
		if !errors.Is(err, cfapi.ErrAccountIDNeeded) {
			t.Fatalf("first try: %v, want ErrAccountIDNeeded", err)
		}
		info, err := h.c.VerifyToken(ctxT(t), h.sim.AccountID())
		if err != nil || info.Kind != cfapi.TokenAccount {
			t.Fatalf("with account: %+v, %v", info, err)
		}
	})
	t.Run("legacy user token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Token: "LegacyUnprefixedToken0123456789abcdefABCD"}, nil)
		if info, err := h.c.VerifyToken(ctxT(t), ""); err != nil || info.Kind != cfapi.TokenUser {
			t.Fatalf("VerifyToken = %+v, %v", info, err)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{}, func(c *cfapi.Config) { c.Token = "cfut_NotTheRightToken" })
		_, err := h.c.VerifyToken(ctxT(t), "")
		var ae *cfapi.APIError
		if !errors.As(err, &ae) || ae.Kind != cfapi.KindInvalidCredentials || !ae.HasCode(1000) {
			t.Fatalf("err %v, want invalid credentials with code 1000", err)
		}
		if !strings.Contains(ae.Remedy, "new API token") {
			t.Errorf("remedy %q does not say what to do", ae.Remedy)
		}
	})
}

func TestZoneAndSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{SSLMode: "flexible"}, nil)
	ctx := ctxT(t)
	z, err := h.c.FindZone(ctx, "Example.COM.")
	if err != nil {
		t.Fatal(err)
	}
	if z.ID != h.zoneID || z.Name != zoneName || z.AccountID != h.sim.AccountID() || z.Status == "" {
		t.Errorf("FindZone = %+v, want id %s account %s", z, h.zoneID, h.sim.AccountID())
	}
	if _, err := h.c.FindZone(ctx, "missing.example"); !cfapi.IsKind(err, cfapi.KindNotFound) || !strings.Contains(err.Error(), "Zone Read") {
		t.Errorf("unknown zone: %v, want not-found naming Zone Read", err)
	}

	ssl, err := h.c.SSLMode(ctx, z.ID)
	if err != nil || ssl.Value != "flexible" || cfapi.SSLModeAllowsAOP(ssl.Value) {
		t.Fatalf("SSLMode = %+v, %v", ssl, err)
	}
	for _, mode := range []string{"strict", "origin_pull"} {
		if s, err := h.c.SetSSLMode(ctx, z.ID, mode); err != nil || s.Value != mode {
			t.Fatalf("SetSSLMode(%s) = %+v, %v", mode, s, err)
		}
		if got := h.sim.SSLMode(zoneName); got != mode {
			t.Errorf("sim ssl = %q after SetSSLMode(%s)", got, mode)
		}
	}
	if _, err := h.c.SetSSLMode(ctx, z.ID, "Strict"); err == nil || !strings.Contains(err.Error(), "full, strict") {
		t.Errorf("bad mode: %v", err)
	}

	tca, err := h.c.TLSClientAuth(ctx, z.ID)
	if err != nil || tca.Value != "off" {
		t.Fatalf("TLSClientAuth = %+v, %v", tca, err)
	}
	if s, err := h.c.SetTLSClientAuth(ctx, z.ID, true); err != nil || s.Value != "on" || h.sim.TLSClientAuth(zoneName) != "on" {
		t.Fatalf("SetTLSClientAuth(on) = %+v, %v", s, err)
	}

	on, err := h.c.ZoneAOPEnabled(ctx, z.ID)
	if err != nil || on {
		t.Fatalf("ZoneAOPEnabled = %t, %v; want false by default", on, err)
	}
	if on, err := h.c.SetZoneAOPEnabled(ctx, z.ID, true); err != nil || !on || !h.sim.ZoneAOPEnabled(zoneName) {
		t.Fatalf("SetZoneAOPEnabled(true) = %t, %v", on, err)
	}
	if on, err := h.c.SetZoneAOPEnabled(ctx, z.ID, false); err != nil || on || h.sim.ZoneAOPEnabled(zoneName) {
		t.Fatalf("SetZoneAOPEnabled(false) = %t, %v", on, err)
	}
}

func TestZoneCertificateLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{DeployAfter: 3}, nil)
	ctx := ctxT(t)
	lab := newLab(t)
	certPEM, keyPEM := lab.leaf(zoneName)

	if _, ok, err := h.c.FindUploaded(ctx, h.zoneID, cfapi.LevelZone, certPEM); err != nil || ok {
		t.Fatalf("FindUploaded before upload = %t, %v", ok, err)
	}
	up, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.ID) != 36 || up.Status == cfapi.StatusActive || up.SerialNumber == "" {
		t.Errorf("upload result %+v: want a UUID, not yet active, with a serial", up)
	}
	for _, r := range h.sim.Requests() {
		if strings.Contains(r.Body, "PRIVATE KEY") {
			t.Errorf("cfsim saw a private key in its log: %s %s", r.Method, r.Path)
		}
	}

	var seen []cfapi.Status
	got, err := h.c.WaitActive(ctx, h.zoneID, up.Ref(), func(c cfapi.Certificate) { seen = append(seen, c.Status) })
	if err != nil || got.Status != cfapi.StatusActive {
		t.Fatalf("WaitActive = %+v, %v", got, err)
	}
	if len(seen) < 2 || seen[len(seen)-1] != cfapi.StatusActive || !slices.Contains(seen, cfapi.StatusPendingDeployment) {
		t.Errorf("progress saw %v, want pending_deployment then active", seen)
	}
	if w := h.sleep.waits(); len(w) != len(seen)-1 {
		t.Errorf("%d polls but %d waits between them", len(seen), len(w))
	}

	list, err := h.c.ListCertificates(ctx, h.zoneID, cfapi.LevelZone)
	if err != nil || len(list) != 1 || list[0].ID != up.ID || list[0].PEM == "" {
		t.Fatalf("ListCertificates = %+v, %v", list, err)
	}
	found, ok, err := h.c.FindUploaded(ctx, h.zoneID, cfapi.LevelZone, certPEM)
	if err != nil || !ok || found.ID != up.ID {
		t.Fatalf("FindUploaded = %+v, %t, %v", found, ok, err)
	}
	// A resumed step uploads again: it must get the same certificate back.
	again, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, certPEM, keyPEM)
	if err != nil || again.ID != up.ID {
		t.Fatalf("second upload = %+v, %v; want the first certificate", again, err)
	}
	if n := h.sim.Uploads(zoneName); n != 1 {
		t.Errorf("cfsim counted %d uploads, want 1", n)
	}
	other, _ := lab.leaf("other." + zoneName)
	if _, ok, _ := h.c.FindUploaded(ctx, h.zoneID, cfapi.LevelZone, other); ok {
		t.Error("FindUploaded matched a different certificate")
	}

	del, err := h.c.DeleteCertificate(ctx, h.zoneID, up.Ref())
	if err != nil || !del.Status.Gone() {
		t.Fatalf("DeleteCertificate = %+v, %v", del, err)
	}
	if _, ok, err := h.c.FindUploaded(ctx, h.zoneID, cfapi.LevelZone, certPEM); err != nil || ok {
		t.Errorf("FindUploaded after delete = %t, %v; deleted certificates must not count", ok, err)
	}
	if _, err := h.c.GetCertificate(ctx, h.zoneID, cfapi.CertRef{Level: cfapi.LevelZone, ID: "00000000-0000-4000-8000-000000000000"}); !cfapi.IsKind(err, cfapi.KindNotFound) {
		t.Errorf("unknown cert: %v, want not-found", err)
	}
}

func TestHostnameCertificatesAndAssociations(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{DeployAfter: 1}, nil)
	ctx := ctxT(t)
	lab := newLab(t)

	var certs []cfapi.Certificate
	for i := range 2 {
		c, k := lab.leaf(fmt.Sprintf("h%d.%s", i, zoneName))
		up, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelHostname, c, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.WaitActive(ctx, h.zoneID, up.Ref(), nil); err != nil {
			t.Fatal(err)
		}
		certs = append(certs, up)
	}
	list, err := h.c.ListCertificates(ctx, h.zoneID, cfapi.LevelHostname)
	if err != nil || len(list) != 2 || list[0].SerialNumber == "" {
		t.Fatalf("ListCertificates(hostname) = %+v, %v", list, err)
	}
	if got, err := h.c.GetCertificate(ctx, h.zoneID, certs[1].Ref()); err != nil || got.ID != certs[1].ID || got.Status != cfapi.StatusActive {
		t.Fatalf("GetCertificate = %+v, %v", got, err)
	}

	// 150 hostnames on the first certificate's quota would exceed 100:
	// split 100 + 50 across the two, in one call.
	var assocs []cfapi.Association
	var hosts []string
	for i := range 150 {
		host := fmt.Sprintf("app%03d.%s", i, zoneName)
		hosts = append(hosts, host)
		assocs = append(assocs, cfapi.Association{Hostname: host, CertID: certs[i/100].ID, Enabled: ptr(true)})
	}
	sts, err := h.c.UpdateHostnames(ctx, h.zoneID, assocs)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 150 || sts[120].Hostname != hosts[120] || sts[120].CertID != certs[1].ID || sts[0].Enabled == nil || !*sts[0].Enabled {
		t.Fatalf("UpdateHostnames returned %d statuses, [0]=%+v [120]=%+v", len(sts), sts[0], sts[120])
	}
	if puts := h.requests("PUT", "/origin_tls_client_auth/hostnames"); len(puts) != 2 {
		t.Errorf("%d PUT requests for two certificates, want one each", len(puts))
	}

	final, err := h.c.WaitHostnamesActive(ctx, h.zoneID, hosts[:5], nil)
	if err != nil || !final[4].Active() {
		t.Fatalf("WaitHostnamesActive = %+v, %v", final, err)
	}
	st, err := h.c.HostnameStatus(ctx, h.zoneID, hosts[149])
	if err != nil || st.CertID != certs[1].ID || !st.Active() || st.SerialNumber == "" {
		t.Fatalf("HostnameStatus = %+v, %v", st, err)
	}
	all, err := h.c.ListHostnameAssociations(ctx, h.zoneID, "all")
	if err != nil || len(all) != 150 {
		t.Fatalf("ListHostnameAssociations = %d, %v", len(all), err)
	}

	if sts, err := h.c.DisableHostnames(ctx, h.zoneID, certs[0].ID, hosts[:2]); err != nil || sts[0].Enabled == nil || *sts[0].Enabled {
		t.Fatalf("DisableHostnames = %+v, %v", sts, err)
	}
	// Deleting a certificate still associated fails with a remedy.
	_, err = h.c.DeleteCertificate(ctx, h.zoneID, certs[1].Ref())
	if !cfapi.IsKind(err, cfapi.KindCertAssociated) || !strings.Contains(err.Error(), "enabled: null") {
		t.Fatalf("delete associated cert: %v, want certificate-in-use telling to void", err)
	}
	voided, err := h.c.VoidHostnames(ctx, h.zoneID, certs[1].ID, hosts[100:])
	if err != nil || voided[0].Enabled != nil {
		t.Fatalf("VoidHostnames = %+v, %v", voided[:1], err)
	}
	if !strings.Contains(h.requests("PUT", "/origin_tls_client_auth/hostnames")[3].Body, `"enabled":null`) {
		t.Error("void did not send enabled:null")
	}
	if _, err := h.c.DeleteCertificate(ctx, h.zoneID, certs[1].Ref()); err != nil {
		t.Fatalf("delete after void: %v", err)
	}
	if _, err := h.c.HostnameStatus(ctx, h.zoneID, "never-associated."+zoneName); !cfapi.IsKind(err, cfapi.KindNotFound) {
		t.Errorf("unknown hostname: %v", err)
	}
}

func TestWaitActive(t *testing.T) {
	t.Parallel()
	lab := newLab(t)
	certPEM, keyPEM := lab.leaf(zoneName)

	t.Run("deployment timed out", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{DeployAfter: 2, DeployTimeout: true}, nil)
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		got, err := h.c.WaitActive(ctxT(t), h.zoneID, up.Ref(), nil)
		if !cfapi.IsKind(err, cfapi.KindDeploymentTimedOut) || got.Status != cfapi.StatusDeploymentTimedOut {
			t.Fatalf("WaitActive = %+v, %v; want deployment-timed-out", got, err)
		}
		if n := len(h.requests("GET", up.ID)); n > 3 {
			t.Errorf("%d polls after deployment_timed_out was reported", n)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{DeployAfter: 1000}, nil)
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelZone, certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(ctxT(t))
		polls := 0
		_, err = h.c.WaitActive(ctx, h.zoneID, up.Ref(), func(cfapi.Certificate) {
			if polls++; polls == 3 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "pending_deployment") {
			t.Fatalf("WaitActive after cancel: %v; want context.Canceled with the last status", err)
		}
		if polls != 3 {
			t.Errorf("%d polls, want none after cancel", polls)
		}
	})
	t.Run("deploy timeout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{DeployAfter: 1000}, func(c *cfapi.Config) {
			c.DeployTimeout = 1 // nanosecond: the wait ends before the first answer
		})
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelZone, certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.c.WaitActive(ctxT(t), h.zoneID, up.Ref(), nil)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "run the step again later") {
			t.Fatalf("WaitActive past DeployTimeout: %v", err)
		}
	})
}

func TestAlertPolicies(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{}, nil)
	ctx := ctxT(t)
	acct := h.sim.AccountID()
	spec := cfapi.AlertPolicySpec{Name: "AOP zone certificate expiry (example.com)", Description: "Created by aopwizard",
		AlertType: cfapi.AlertZoneCertExpiry, Emails: []string{"ops@example.com"}}
	p, created, err := h.c.EnsureAlertPolicy(ctx, acct, spec)
	if err != nil || !created || p.ID == "" {
		t.Fatalf("EnsureAlertPolicy = %+v, %t, %v", p, created, err)
	}
	again, created, err := h.c.EnsureAlertPolicy(ctx, acct, spec)
	if err != nil || created || again.ID != p.ID {
		t.Fatalf("second EnsureAlertPolicy = %+v, %t, %v; want the existing policy", again, created, err)
	}
	hs := spec
	hs.AlertType = cfapi.AlertHostnameCertExpiry
	hp, created, err := h.c.EnsureAlertPolicy(ctx, acct, hs)
	if err != nil || !created || hp.ID == p.ID {
		t.Fatalf("hostname policy with the same name = %+v, %t, %v; want a new one", hp, created, err)
	}
	ps, err := h.c.ListAlertPolicies(ctx, acct)
	if err != nil || len(ps) != 2 || ps[0].Emails[0] != "ops@example.com" {
		t.Fatalf("ListAlertPolicies = %+v, %v", ps, err)
	}
	if err := h.c.DeleteAlertPolicy(ctx, acct, p.ID); err != nil {
		t.Fatal(err)
	}
	if ps, _ := h.c.ListAlertPolicies(ctx, acct); len(ps) != 1 {
		t.Errorf("%d policies after delete, want 1", len(ps))
	}
	if n := len(h.requests("POST", "/alerting/v3/policies")); n != 2 {
		t.Errorf("%d policy creations, want 2", n)
	}
	if _, _, err := h.c.EnsureAlertPolicy(ctx, acct, cfapi.AlertPolicySpec{Name: "x", AlertType: cfapi.AlertZoneCertExpiry}); err == nil || !strings.Contains(err.Error(), "email") {
		t.Errorf("policy without destination: %v", err)
	}
}

func TestMissingIDFailsWithoutRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{}, nil)
	_, err := h.c.ZoneAOPEnabled(ctxT(t), "")
	if err == nil || !strings.Contains(err.Error(), "zone_id") || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("empty zone ID: %v", err)
	}
	if n := len(h.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent for an empty zone ID", n)
	}
}

// An endless answer (a broken proxy in front of the API) fails with
// ErrAnswerTooLarge instead of filling the memory.
func TestEndlessAnswerIsCut(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, err := cfapi.New(cfapi.Config{Token: "t", BaseURL: srv.URL + "/client/v4/", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.VerifyToken(ctxT(t), "")
	if !errors.Is(err, cfapi.ErrAnswerTooLarge) {
		t.Fatalf("VerifyToken on an endless answer: %v", err)
	}
}
