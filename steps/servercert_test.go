package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// The exported rule is the one Validate applies: a missing certificate is
// a problem exactly when NeedsServerCert says one is needed, and a missing
// key exactly when NeedsServerKey does.
func TestNeedsServerCertIsValidatesRule(t *testing.T) {
	for _, c := range []struct {
		server, config, target string
		cert, key              bool
	}{
		{"nginx", OriginApply, "", false, false},
		{"nginx", OriginApply, "existing", false, false},
		{"nginx", OriginApply, "managed", true, true},
		{"nginx", OriginManual, "", true, true},
		{"apache", OriginManual, "", true, true},
		{"haproxy", OriginManual, "", true, false},
		{"haproxy", OriginApply, "", false, false},
		{"caddy", OriginManual, "", true, true},
		{"traefik", OriginManual, "", true, true},
		{"envoy", OriginManual, "", true, true},
		{"ingress-nginx", OriginManual, "", false, false},
		{"builtin", OriginApply, "", true, true},
	} {
		in := Inputs{Zone: "example.com", Mode: ModeZone, Server: c.server, OriginConfig: c.config,
			Origins: []string{"192.0.2.1"}, WaitOrigin: 1, CertDir: t.TempDir()}
		in.Origin.Target = c.target
		if got := in.NeedsServerCert(); got != c.cert {
			t.Errorf("%s %s target %q: NeedsServerCert %v, want %v", c.server, c.config, c.target, got, c.cert)
		}
		if got := in.NeedsServerKey(); got != c.key {
			t.Errorf("%s %s target %q: NeedsServerKey %v, want %v", c.server, c.config, c.target, got, c.key)
		}
		fields := map[string]bool{}
		for _, p := range in.Validate() {
			fields[p.Field] = true
		}
		if fields["server cert"] != c.cert || fields["server key"] != c.key {
			t.Errorf("%s %s target %q: Validate asks for cert %v key %v, the rule says %v %v",
				c.server, c.config, c.target, fields["server cert"], fields["server key"], c.cert, c.key)
		}
	}
}

// operatorNginx is an nginx layout of an operator's machine: the site of
// www.example.test with its certificate in a snippet, a plain-HTTP
// redirect, and a site whose certificate is per request.
func operatorNginx(t *testing.T, lab *pkitest.Lab) (dir string, in Inputs) {
	t.Helper()
	servertest.RequireServer(t, render.Nginx)
	dir = servertest.Dir(t)
	cert, key := lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey)
	servertest.WriteFiles(t, dir, map[string]string{
		"nginx.conf": "worker_processes 1;\npid " + dir + "/nginx.pid;\nevents { worker_connections 64; }\nhttp {\n" +
			"    access_log " + dir + "/access.log;\n    include " + dir + "/sites-enabled/*;\n}\n",
		"snippets/tls.conf": "ssl_certificate " + cert + ";\nssl_certificate_key " + key + ";\n",
		"sites-enabled/www": "server {\n    listen 127.0.0.1:18443 ssl;\n    server_name www.example.test example.test;\n" +
			"    include " + dir + "/snippets/tls.conf;\n    root /var/www/html;\n}\n" +
			"server {\n    listen 127.0.0.1:18080;\n    server_name plain.example.test;\n    return 301 https://$host$request_uri;\n}\n",
		"sites-enabled/per-request": "server {\n    listen 127.0.0.1:18443 ssl;\n    server_name dyn.example.test;\n" +
			"    ssl_certificate $ssl_server_name.pem;\n    ssl_certificate_key $ssl_server_name.key;\n}\n",
	})
	in = Inputs{Zone: "example.test", Mode: ModeZone, Server: "nginx", Hostnames: []string{"www.example.test"}}
	in.Origin.Config = filepath.Join(dir, "nginx.conf")
	in.Origin.ErrorLog = filepath.Join(dir, "error.log")
	return dir, in
}

// The wizard asks for the origin's certificate exactly when the rollout
// needs it, and offers the files of the site that serves the hostnames,
// read from a real nginx's own view of its configuration (nginx -T).
func TestServerCertQuestionFromARealNginx(t *testing.T) {
	lab := pkitest.New(t)
	dir, in := operatorNginx(t, lab)
	found, err := FindSites(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := FoundServerCert{Cert: lab.Path(pkitest.ServerCert), Key: lab.Path(pkitest.ServerKey),
		Hostname: "www.example.test", Site: filepath.Join(dir, "sites-enabled/www") + ":1"}

	// Applied to the existing site, which keeps its own certificate.
	if q := in.ServerCertQuestion(found); q.Cert || q.Key {
		t.Errorf("apply to the site that serves www: asked %+v", q)
	}
	// Manual: aopwizard's own block, with the site's files offered.
	manual := in
	manual.OriginConfig = OriginManual
	q := manual.ServerCertQuestion(found)
	if !q.Cert || !q.Key || q.Found == nil || *q.Found != want {
		t.Fatalf("manual: got %+v (found %+v), want cert and key asked with %+v", q, q.Found, want)
	}
	if got := q.Found.From(); !strings.Contains(got, "detected from the site that serves www.example.test") {
		t.Errorf("From() = %q", got)
	}
	// No hostname named: the managed block needs the certificate, and the
	// zone's own site offers it.
	zone := in
	zone.Hostnames = nil
	if q := zone.ServerCertQuestion(found); !q.Cert || q.Found == nil || q.Found.Cert != want.Cert {
		t.Errorf("zone mode without hostnames: got %+v (found %+v)", q, q.Found)
	}
	// No TLS site serves the hostname: a new block, with nothing to offer
	// (the plain-HTTP site has no certificate, the per-request one no file).
	for _, h := range []string{"new.example.test", "plain.example.test"} {
		other := in
		other.Hostnames = []string{h}
		if q := other.ServerCertQuestion(found); !q.Cert || !q.Key || q.Found != nil {
			t.Errorf("%s: got %+v (found %+v), want cert and key asked, nothing offered", h, q, q.Found)
		}
	}
	dyn := manual
	dyn.Hostnames = []string{"dyn.example.test"}
	if q := dyn.ServerCertQuestion(found); q.Found != nil {
		t.Errorf("a certificate chosen per request ($ssl_server_name) was offered: %+v", q.Found)
	}
	// Sites of another server are not offered for Caddy.
	caddy := manual
	caddy.Server = "caddy"
	if q := caddy.ServerCertQuestion(found); !q.Cert || q.Found != nil {
		t.Errorf("caddy: got %+v (found %+v)", q, q.Found)
	}
	// Sites that could not be read: only what Validate needs.
	if q := in.ServerCertQuestion(nil); q.Cert {
		t.Errorf("no sites read, apply with a hostname: asked %+v", q)
	}
	if _, err := FindSites(context.Background(), caddy, nil); err == nil {
		t.Error("FindSites read sites of caddy")
	}
}

func TestCheckServerCertAndKey(t *testing.T) {
	lab := pkitest.New(t)
	cert, key, bundle := lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey), lab.Path(pkitest.ServerBundle)
	otherKey := lab.Path("caA.key")
	if err := CheckServerCert(render.Nginx, cert); err != nil {
		t.Errorf("the lab's certificate: %v", err)
	}
	if err := CheckServerKey(key, cert); err != nil {
		t.Errorf("the lab's key: %v", err)
	}
	if err := CheckServerCert(render.HAProxy, bundle); err != nil {
		t.Errorf("HAProxy's combined PEM: %v", err)
	}
	missing := filepath.Join(lab.Dir, "nope.pem")
	encrypted := filepath.Join(lab.Dir, "enc.key")
	pemData, err := lab.Server.EncryptedKeyPEM([]byte("pass phrase"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(encrypted, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"missing certificate", CheckServerCert(render.Nginx, missing), "there is no file at " + missing},
		{"key as certificate", CheckServerCert(render.Nginx, key), "is not a certificate"},
		{"directory", CheckServerCert(render.Nginx, lab.Dir), "directory"},
		{"certificate as key", CheckServerKey(cert, cert), "is not a private key"},
		{"another key", CheckServerKey(otherKey, cert), "is not the key of the certificate"},
		{"encrypted key", CheckServerKey(encrypted, cert), "encrypted"},
		{"HAProxy without the key", CheckServerCert(render.HAProxy, lab.Path(pkitest.CAAFile)), "HAProxy takes the certificate and its key in one PEM file"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.name, c.err, c.want)
		}
	}
}
