package cfapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// wantAPIError asserts err is an *APIError of kind k whose message names
// every string in mention (a permission group, a limit).
func wantAPIError(t *testing.T, err error, k cfapi.Kind, mention ...string) *cfapi.APIError {
	t.Helper()
	var ae *cfapi.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want *cfapi.APIError of kind %s", err, err, k)
	}
	if ae.Kind != k {
		t.Fatalf("kind %s, want %s: %v", ae.Kind, k, err)
	}
	if ae.Explanation == "" || ae.Remedy == "" {
		t.Errorf("%s error lacks an explanation or remedy: %v", k, err)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error does not mention %q: %v", m, err)
		}
	}
	return ae
}

func TestPermissionErrorsNameTheGroup(t *testing.T) {
	t.Parallel()
	// The token can read the zone and nothing else.
	h := newHarness(t, cfsim.Options{Scopes: map[string][]string{zoneName: {cfsim.PermZoneRead}}}, nil)
	ctx := ctxT(t)
	lab := newLab(t)
	certPEM, keyPEM := lab.leaf(zoneName)

	_, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, certPEM, keyPEM)
	ae := wantAPIError(t, err, cfapi.KindPermission, "SSL and Certificates Write", "api-tokens")
	if !ae.HasCode(10000) || ae.Status != http.StatusForbidden {
		t.Errorf("status %d codes %v, want 403/10000", ae.Status, ae.Codes)
	}
	_, err = h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelHostname, certPEM, keyPEM)
	wantAPIError(t, err, cfapi.KindPermission, "SSL and Certificates Write")
	_, err = h.c.EnableHostnames(ctx, h.zoneID, "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60", []string{"a." + zoneName})
	wantAPIError(t, err, cfapi.KindPermission, "SSL and Certificates Write")
	_, err = h.c.SetZoneAOPEnabled(ctx, h.zoneID, true)
	wantAPIError(t, err, cfapi.KindPermission, "SSL and Certificates Write")
	_, err = h.c.ListCertificates(ctx, h.zoneID, cfapi.LevelZone)
	wantAPIError(t, err, cfapi.KindPermission, "SSL and Certificates Read")
	_, err = h.c.SetSSLMode(ctx, h.zoneID, "strict")
	wantAPIError(t, err, cfapi.KindPermission, "Zone Settings Write")
	_, err = h.c.SetTLSClientAuth(ctx, h.zoneID, true)
	wantAPIError(t, err, cfapi.KindPermission, "Zone Settings Write")
	_, err = h.c.SSLMode(ctx, h.zoneID)
	wantAPIError(t, err, cfapi.KindPermission, "Zone Settings Read")
	_, _, err = h.c.EnsureAlertPolicy(ctx, h.sim.AccountID(), cfapi.AlertPolicySpec{Name: "n", AlertType: cfapi.AlertZoneCertExpiry, Emails: []string{"ops@example.com"}})
	wantAPIError(t, err, cfapi.KindPermission, "Notifications Write")
	if n := len(h.requests("POST", "")); n != 2 {
		t.Errorf("%d POSTs: permission errors must not be retried", n)
	}
}

func TestCredentialFormatErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{}, func(c *cfapi.Config) { c.Token = "cfut_has.a.dot" })
	_, err := h.c.FindZone(ctxT(t), zoneName)
	ae := wantAPIError(t, err, cfapi.KindCredentialsFormat, "CLOUDFLARE_API_TOKEN")
	if !ae.HasCode(6003) || !ae.HasCode(6111) {
		t.Errorf("codes %v, want 6003 with its 6111 chain", ae.Codes)
	}

	k := newHarness(t, cfsim.Options{APIKey: "0123456789abcdef0123456789abcdef01234", Email: "ops@example.com"}, func(c *cfapi.Config) {
		c.Token, c.APIKey, c.Email = "", "not-a-key", "ops@example.com"
	})
	_, err = k.c.FindZone(ctxT(t), zoneName)
	if ae := wantAPIError(t, err, cfapi.KindCredentialsFormat); !ae.HasCode(6103) {
		t.Errorf("codes %v, want 6103 in the chain", ae.Codes)
	}
}

// A wrong or revoked token is answered 9109 "Invalid access token" outside
// the verify endpoints: the advice is a new token, not another permission.
func TestInvalidTokenIsNotAPermissionProblem(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{}, func(c *cfapi.Config) { c.Token = "cfut_revokedrevokedrevokedrevokedrevoked00" })
	_, err := h.c.FindZone(ctxT(t), zoneName)
	ae := wantAPIError(t, err, cfapi.KindInvalidCredentials, "create a new API token", "Zone Read")
	if !ae.HasCode(9109) || ae.Status != 403 {
		t.Errorf("status %d codes %v, want 403 with 9109", ae.Status, ae.Codes)
	}
}

func TestNotFoundErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{}, nil)
	ctx := ctxT(t)
	_, err := h.c.GetCertificate(ctx, h.zoneID, cfapi.CertRef{Level: cfapi.LevelHostname, ID: "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"})
	if ae := wantAPIError(t, err, cfapi.KindNotFound, "list the certificates"); !ae.HasCode(7003) || ae.Status != 404 {
		t.Errorf("status %d codes %v, want 404/7003", ae.Status, ae.Codes)
	}
	_, err = h.c.ZoneAOPEnabled(ctx, "023e105f4ecef8ad9ca31a8372d0c353")
	wantAPIError(t, err, cfapi.KindNotFound)
	if n := len(h.sim.Requests()); n != 2 {
		t.Errorf("%d requests: 404s must not be retried", n)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	lab := newLab(t)
	goodCert, goodKey := lab.leaf("a." + zoneName)
	otherCert, _ := lab.leaf("b." + zoneName)
	caKey, err := lab.ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	encPair := lab.pair("d." + zoneName)
	encKey, err := encPair.EncryptedKeyPEM([]byte("secret-pass"))
	if err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, cfsim.Options{}, nil)
	ctx := ctxT(t)
	_, err = h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelHostname, lab.ca.CertPEM(), caKey)
	wantAPIError(t, err, cfapi.KindMissingLeaf, "leaf", "CA:FALSE")
	_, err = h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, encPair.CertPEM(), encKey)
	wantAPIError(t, err, cfapi.KindEncryptedKey, "unencrypted")
	_, err = h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, otherCert, goodKey)
	wantAPIError(t, err, cfapi.KindKeyMismatch)
	if _, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, goodKey, goodKey); err == nil || !strings.Contains(err.Error(), "private key") {
		t.Errorf("key passed as certificate: %v", err)
	}
	if n := h.sim.Uploads(zoneName); n != 0 {
		t.Errorf("%d uploads accepted", n)
	}

	zoneCert, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelZone, goodCert, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.c.EnableHostnames(ctx, h.zoneID, zoneCert.ID, []string{"a." + zoneName})
	wantAPIError(t, err, cfapi.KindNotHostnameCert, "per-hostname")
}

// Cloudflare rejects a second upload of a certificate. UploadCertificate
// normally returns the existing one; when it cannot look it up, the
// rejection itself must be explained.
func TestDuplicateUploadExplained(t *testing.T) {
	t.Parallel()
	// Requests: #0 upload, #1 duplicate upload, #2-#4 the lookup, all 5xx.
	h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{"", "", cfsim.Fault5xx, cfsim.Fault5xx, cfsim.Fault5xx}}}, nil)
	lab := newLab(t)
	c, k := lab.leaf("a." + zoneName)
	if _, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, c, k); err != nil {
		t.Fatal(err)
	}
	_, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, c, k)
	wantAPIError(t, err, cfapi.KindDuplicate, "already uploaded", "already exists")
	if n := h.sim.Uploads(zoneName); n != 1 {
		t.Errorf("%d uploads, want 1", n)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t, cfsim.Options{}, nil)
	ctx := ctxT(t)
	lab := newLab(t)
	var ids []string
	for i := range cfapi.MaxHostnameCerts {
		c, k := lab.leaf(fmt.Sprintf("h%d.%s", i, zoneName))
		up, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelHostname, c, k)
		if err != nil {
			t.Fatalf("upload %d: %v", i, err)
		}
		ids = append(ids, up.ID)
	}
	c, k := lab.leaf("h10." + zoneName)
	_, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelHostname, c, k)
	wantAPIError(t, err, cfapi.KindCertLimit, "maximum of 10", "delete an unused")

	hosts := func(from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, fmt.Sprintf("app%03d.%s", i, zoneName))
		}
		return out
	}
	before := len(h.sim.Requests())
	_, err = h.c.EnableHostnames(ctx, h.zoneID, ids[0], hosts(0, 101))
	wantAPIError(t, err, cfapi.KindHostnameLimit, "101 hostnames", "at most 100")
	if len(h.sim.Requests()) != before {
		t.Error("101 hostnames for one certificate were sent; the limit is known in advance")
	}
	if _, err := h.c.EnableHostnames(ctx, h.zoneID, ids[0], hosts(0, 60)); err != nil {
		t.Fatal(err)
	}
	_, err = h.c.EnableHostnames(ctx, h.zoneID, ids[0], hosts(60, 60))
	wantAPIError(t, err, cfapi.KindHostnameLimit, "at most 100", "split the hostnames")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	seq := func(n int) []cfsim.FaultKind {
		out := make([]cfsim.FaultKind, n)
		for i := range out {
			out[i] = cfsim.Fault429
		}
		return out
	}
	t.Run("retries honour Retry-After", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: seq(2), RetryAfter: 3}}, nil)
		if _, err := h.c.FindZone(ctxT(t), zoneName); err != nil {
			t.Fatalf("two 429s then success: %v", err)
		}
		if w := h.sleep.waits(); !slices.Equal(w, []time.Duration{3 * time.Second, 3 * time.Second}) {
			t.Errorf("waits %v, want Retry-After (3s) twice", w)
		}
	})
	t.Run("gives up after two retries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: seq(5), RetryAfter: 1}}, nil)
		_, err := h.c.FindZone(ctxT(t), zoneName)
		ae := wantAPIError(t, err, cfapi.KindRateLimited, "rate limited by Cloudflare: retry after 1 s", "1200 requests")
		if !ae.HasCode(971) || ae.RetryAfter != time.Second {
			t.Errorf("codes %v retry-after %v", ae.Codes, ae.RetryAfter)
		}
		if n := len(h.sim.Requests()); n != 3 {
			t.Errorf("%d requests, want 3 (two retries)", n)
		}
	})
	for _, tc := range []struct {
		name       string
		n, seconds int
		waits      []time.Duration
	}{
		// Retry-After beyond MaxRateLimitWait (60s): fail at once.
		{"long Retry-After fails at once", 1, 300, nil},
		// A second 40s wait would exceed the 60s budget.
		{"total wait is capped", 2, 40, []time.Duration{40 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: seq(tc.n), RetryAfter: tc.seconds}}, nil)
			_, err := h.c.FindZone(ctxT(t), zoneName)
			wantAPIError(t, err, cfapi.KindRateLimited, fmt.Sprintf("retry after %d s", tc.seconds))
			if w := h.sleep.waits(); !slices.Equal(w, tc.waits) {
				t.Errorf("waits %v, want %v", w, tc.waits)
			}
		})
	}
	t.Run("uploads after 429 are re-sent without a lookup", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: seq(1)}}, nil)
		c, k := newLab(t).leaf(zoneName)
		if _, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelZone, c, k); err != nil {
			t.Fatal(err)
		}
		if n := len(h.sim.Requests()); n != 2 {
			t.Errorf("%d requests, want 2: a 429 is not processed, so no lookup is needed", n)
		}
	})
}

func TestServerErrorsAndResets(t *testing.T) {
	t.Parallel()
	faults := func(k cfsim.FaultKind, n int) cfsim.Faults {
		f := cfsim.Faults{}
		for range n {
			f.Sequence = append(f.Sequence, k)
		}
		return f
	}
	t.Run("5xx then success", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: faults(cfsim.Fault5xx, 2)}, nil)
		if _, err := h.c.FindZone(ctxT(t), zoneName); err != nil {
			t.Fatal(err)
		}
		if w := h.sleep.waits(); len(w) != 2 || w[1] < w[0]/2 {
			t.Errorf("backoff waits %v, want two growing waits", w)
		}
	})
	t.Run("5xx three times", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: faults(cfsim.Fault5xx, 3)}, nil)
		_, err := h.c.FindZone(ctxT(t), zoneName)
		wantAPIError(t, err, cfapi.KindServer, "cloudflarestatus")
		if n := len(h.sim.Requests()); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
	})
	t.Run("resets three times", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: faults(cfsim.FaultReset, 3)}, nil)
		_, err := h.c.FindZone(ctxT(t), zoneName)
		if err == nil || !strings.Contains(err.Error(), "no answer after 3 attempts") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("upload reset after commit", func(t *testing.T) {
		t.Parallel()
		// The upload is applied but its answer is lost; the retry must find
		// it instead of uploading again.
		h := newHarness(t, cfsim.Options{DeployAfter: 1, Faults: faults(cfsim.FaultResetAfter, 1)}, nil)
		c, k := newLab(t).leaf("a." + zoneName)
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, c, k)
		if err != nil {
			t.Fatal(err)
		}
		if n := h.sim.Uploads(zoneName); n != 1 {
			t.Errorf("%d uploads, want 1", n)
		}
		if certs := h.sim.Certificates(zoneName); len(certs) != 1 || certs[0].ID != up.ID {
			t.Errorf("returned %s, sim holds %+v", up.ID, certs)
		}
		if got := methods(h.sim.Requests()); !slices.Equal(got, []string{"POST", "GET"}) {
			t.Errorf("requests %v, want the upload then the lookup that found it, no second upload", got)
		}
	})
	t.Run("upload whose last attempt landed unanswered", func(t *testing.T) {
		t.Parallel()
		// Two 5xx answers, each followed by a lookup, then a third attempt
		// applied but reset: the final lookup finds it, so the call succeeds.
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{
			cfsim.Fault5xx, "", cfsim.Fault5xx, "", cfsim.FaultResetAfter}}}, nil)
		c, key := newLab(t).leaf("a." + zoneName)
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelZone, c, key)
		if err != nil {
			t.Fatalf("the third attempt landed; the upload must report it: %v", err)
		}
		if got := methods(h.sim.Requests()); !slices.Equal(got, []string{"POST", "GET", "POST", "GET", "POST", "GET"}) || up.ID == "" {
			t.Errorf("requests %v, upload %+v; want three uploads each followed by a lookup", got, up)
		}
	})
	// Without an answer (5xx, or a reset before the request was applied)
	// the upload may or may not have landed: it is re-sent only after a
	// lookup shows it did not.
	for _, k := range []cfsim.FaultKind{cfsim.Fault5xx, cfsim.FaultReset} {
		t.Run("upload re-sent after a lookup on "+string(k), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfsim.Options{Faults: faults(k, 1)}, nil)
			c, key := newLab(t).leaf("a." + zoneName)
			if _, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, c, key); err != nil {
				t.Fatal(err)
			}
			rs := h.sim.Requests()
			if got := methods(rs); !slices.Equal(got, []string{"POST", "GET", "POST"}) {
				t.Fatalf("requests %v, want upload, lookup, upload", got)
			}
			if !hasSuffix(rs[1].Path, "/hostnames/certificates") || h.sim.Uploads(zoneName) != 1 {
				t.Errorf("lookup %s, %d uploads; want the hostname certificate list and 1 upload", rs[1].Path, h.sim.Uploads(zoneName))
			}
		})
	}
	t.Run("policy create reset after commit", func(t *testing.T) {
		t.Parallel()
		// #0 is the existence check, #1 the create whose answer is lost.
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{"", cfsim.FaultResetAfter}}}, nil)
		p, created, err := h.c.EnsureAlertPolicy(ctxT(t), h.sim.AccountID(), cfapi.AlertPolicySpec{
			Name: "n", AlertType: cfapi.AlertHostnameCertExpiry, Emails: []string{"ops@example.com"}})
		if err != nil || !created || p.ID == "" {
			t.Fatalf("EnsureAlertPolicy = %+v, %t, %v", p, created, err)
		}
		if ps, err := h.c.ListAlertPolicies(ctxT(t), h.sim.AccountID()); err != nil || len(ps) != 1 || ps[0].ID != p.ID {
			t.Errorf("policies after a lost create answer: %+v, %v; want just %s", ps, err, p.ID)
		}
	})
	t.Run("delete reset after commit", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{"", cfsim.FaultResetAfter}}}, nil)
		c, k := newLab(t).leaf(zoneName)
		up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelZone, c, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.c.DeleteCertificate(ctxT(t), h.zoneID, up.Ref()); err != nil {
			t.Fatalf("delete whose first answer was lost: %v", err)
		}
	})
	t.Run("slow answer bounded by the attempt timeout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{cfsim.FaultLatency}, Latency: time.Hour}},
			func(c *cfapi.Config) { c.Timeout = 50 * time.Millisecond })
		if _, err := h.c.FindZone(ctxT(t), zoneName); err != nil {
			t.Fatalf("a hung first attempt must be abandoned and retried: %v", err)
		}
	})
	t.Run("context bounds the call", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfsim.Options{Faults: cfsim.Faults{Sequence: []cfsim.FaultKind{cfsim.FaultLatency}, Latency: time.Hour}}, nil)
		ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
		defer cancel()
		_, err := h.c.FindZone(ctx, zoneName)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want the context's deadline", err)
		}
	})
}

// The token must not appear in any error or log line, whatever fails.
func TestCredentialsNeverLeak(t *testing.T) {
	t.Parallel()
	const token = "cfut_DistinctiveSecretToken7f3a9c1e5b2d4680ZZQX"
	const key = "fedcba9876543210fedcba9876543210fedcb"
	lab := newLab(t)
	certPEM, keyPEM := lab.leaf("a." + zoneName)
	var outputs []string
	collect := func(err error) {
		if err != nil {
			outputs = append(outputs, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	exercise := func(h *harness) {
		ctx := ctxT(t)
		_, err := h.c.VerifyToken(ctx, "")
		collect(err)
		_, err = h.c.VerifyToken(ctx, h.sim.AccountID())
		collect(err)
		_, err = h.c.FindZone(ctx, zoneName)
		collect(err)
		_, err = h.c.SetSSLMode(ctx, h.zoneID, "strict")
		collect(err)
		_, err = h.c.TLSClientAuth(ctx, h.zoneID)
		collect(err)
		_, err = h.c.SetZoneAOPEnabled(ctx, h.zoneID, true)
		collect(err)
		up, err := h.c.UploadCertificate(ctx, h.zoneID, cfapi.LevelHostname, certPEM, keyPEM)
		collect(err)
		_, err = h.c.WaitActive(ctx, h.zoneID, cfapi.CertRef{Level: cfapi.LevelHostname, ID: up.ID + "x"}, nil)
		collect(err)
		_, err = h.c.EnableHostnames(ctx, h.zoneID, "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60", []string{"a." + zoneName})
		collect(err)
		_, err = h.c.HostnameStatuses(ctx, h.zoneID, []string{"a." + zoneName})
		collect(err)
		_, err = h.c.ListHostnameAssociations(ctx, h.zoneID)
		collect(err)
		_, _, err = h.c.EnsureAlertPolicy(ctx, h.sim.AccountID(), cfapi.AlertPolicySpec{Name: "n", AlertType: cfapi.AlertZoneCertExpiry, Emails: []string{"a@b.c"}})
		collect(err)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err = h.c.FindZone(cctx, zoneName)
		collect(err)
		outputs = append(outputs, h.log.String())
	}
	withToken := func(c *cfapi.Config) { c.Token = token }

	// Wrong token everywhere: 401/1000 on verify, 403/9109 elsewhere.
	exercise(newHarness(t, cfsim.Options{}, withToken))
	// Right token, no permissions beyond Zone Read.
	exercise(newHarness(t, cfsim.Options{Token: token, Scopes: map[string][]string{zoneName: {cfsim.PermZoneRead}}}, nil))
	// Right token, every request rate limited, failing or reset.
	for _, k := range []cfsim.FaultKind{cfsim.Fault429, cfsim.Fault5xx, cfsim.FaultReset, cfsim.FaultResetAfter} {
		exercise(newHarness(t, cfsim.Options{Token: token, Faults: cfsim.Faults{Rate: 1, Kinds: []cfsim.FaultKind{k}}}, nil))
	}
	// Global key credentials, wrong key.
	exercise(newHarness(t, cfsim.Options{APIKey: "0123456789abcdef0123456789abcdef01234", Email: "ops@example.com"},
		func(c *cfapi.Config) { c.Token, c.APIKey, c.Email = "", key, "ops@example.com" }))
	// Nothing listening.
	dead := newHarness(t, cfsim.Options{}, withToken)
	dead.srv.Close()
	exercise(dead)

	// A server that echoes the credential back in its error message.
	echo := newHarness(t, cfsim.Options{}, withToken)
	echo.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"success":false,"errors":[{"code":6003,"message":"Invalid request headers","error_chain":[{"code":6111,"message":"bad header %s"}]}],"messages":[],"result":null}`,
			r.Header.Get("Authorization"))
	})
	_, err := echo.c.FindZone(ctxT(t), zoneName)
	collect(err)
	if err == nil || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("echoed credential not redacted: %v", err)
	}
	outputs = append(outputs, echo.log.String())

	if len(outputs) < 50 {
		t.Fatalf("only %d outputs collected; the exercise is broken", len(outputs))
	}
	for _, o := range outputs {
		for _, secret := range []string{token, key, token[5:25]} {
			if strings.Contains(o, secret) {
				t.Fatalf("credential leaked into output: %s", o)
			}
		}
	}
}
