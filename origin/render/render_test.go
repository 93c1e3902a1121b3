package render

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

func validSpec() Spec {
	return Spec{
		ID: "example.com", Server: Nginx, Phase: Soft, Mode: Zone, Listen: ":443",
		ServerCertFile: "/etc/ssl/o.pem", ServerKeyFile: "/etc/ssl/o.key", CAFile: "/etc/ssl/ca.pem",
		Hosts: []Host{{Name: "example.com"}},
	}
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"bad id", func(s *Spec) { s.ID = "../etc" }, "managed-block id"},
		{"unknown server", func(s *Spec) { s.Server = "iis" }, `server "iis" is not supported`},
		{"unknown phase", func(s *Spec) { s.Phase = "strict" }, "use soft"},
		{"unknown mode", func(s *Spec) { s.Mode = "account" }, "use global"},
		{"relative cert", func(s *Spec) { s.ServerCertFile = "o.pem" }, "server certificate \"o.pem\" must be an absolute path"},
		{"zone without CA", func(s *Spec) { s.CAFile = "" }, "zone mode needs the CA bundle"},
		{"relative CA", func(s *Spec) { s.CAFile = "ca.pem" }, "must be an absolute path"},
		{"bad listen", func(s *Spec) { s.Listen = "localhost:443" }, "must use an IP address"},
		{"bad port", func(s *Spec) { s.Listen = ":99999" }, "no valid port"},
		{"bad hostname", func(s *Spec) { s.Hosts = []Host{{Name: "exa mple.com"}} }, "not a valid DNS name"},
		{"duplicate host", func(s *Spec) { s.Hosts = []Host{{Name: "a.com"}, {Name: "A.com."}} }, "listed twice"},
		{"host CA in zone mode", func(s *Spec) { s.Hosts = []Host{{Name: "a.com", CAFile: "/ca.pem"}} }, "only used in hostname mode"},
		{"hostname mode without host CA", func(s *Spec) { s.Mode, s.CAFile = Hostname, "" }, "of hostname example.com is missing"},
		{"hostname mode with shared CA", func(s *Spec) { s.Mode = Hostname }, "one CA bundle per hostname"},
		{"hostname mode without hosts", func(s *Spec) { s.Mode, s.CAFile, s.Hosts = Hostname, "", nil }, "at least one hostname"},
		{"upstream with path", func(s *Spec) { s.Upstream = "http://app:8080/x" }, "no path"},
		{"haproxy separate key", func(s *Spec) { s.Server = HAProxy }, "concatenate certificate and key"},
	}
	for _, c := range cases {
		s := validSpec()
		c.change(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error naming %q", c.name, err, c.want)
		}
		if _, rerr := Render(s); rerr == nil {
			t.Errorf("%s: Render accepted a spec Validate rejects", c.name)
		}
	}
	if err := validSpec().Validate(); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	s := validSpec()
	if _, err := Standalone(s); err == nil || !strings.Contains(err.Error(), "runtime directory is missing") {
		t.Errorf("Standalone without RuntimeDir: %v", err)
	}
	s.Server, s.RuntimeDir = Traefik, "/run/x"
	if _, err := Standalone(s); err == nil || !strings.Contains(err.Error(), "not traefik") {
		t.Errorf("Standalone for traefik: %v", err)
	}
}

// Global mode without a CA file renders Cloudflare's CA (the bare PEM from
// cfca) next to the config and points the server at it.
func TestGlobalModeWritesCloudflareCA(t *testing.T) {
	s := validSpec()
	s.Mode, s.CAFile = Global, ""
	out, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join("/etc/nginx", GlobalCAFileName)
	var found bool
	for _, f := range out.Files {
		if f.Path == want {
			found = bytes.Equal(f.Content, cfca.PEM())
		}
	}
	if !found {
		t.Fatalf("no file %s holding cfca.PEM() in %v", want, out.Files)
	}
	if !bytes.Contains(out.Files[0].Content, []byte("ssl_client_certificate "+want+";")) {
		t.Errorf("config does not point at %s:\n%s", want, out.Files[0].Content)
	}
	if !strings.Contains(strings.Join(out.Notes, "\n"), "every Cloudflare customer") {
		t.Error("global mode carries no warning that the CA is shared by all Cloudflare customers")
	}
}

func TestSoftAndEnforceDirectives(t *testing.T) {
	must := func(s Spec) string {
		t.Helper()
		out, err := Render(s)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, f := range out.Files {
			b.Write(f.Content)
		}
		return b.String() + strings.Join(out.Notes, "\n")
	}
	cases := []struct {
		server              Server
		soft, enforce, gone string // gone: soft-only text that must not survive into enforce
	}{
		{Nginx, "ssl_verify_client optional;", "ssl_verify_client on;", "error_page 495"},
		{Apache, "SSLVerifyClient optional_no_ca", "SSLVerifyClient require", "optional_no_ca"},
		{HAProxy, "verify optional ca-ignore-err all crt-ignore-err all", "verify required", "ignore-err"},
		{Caddy, "mode request", "mode require_and_verify", "mode request"},
		{Traefik, "clientAuthType: RequestClientCert", "clientAuthType: RequireAndVerifyClientCert", "RequestClientCert"},
		{Envoy, "require_client_certificate: false", "require_client_certificate: true", "ACCEPT_UNTRUSTED"},
		{Builtin, `"phase": "soft"`, `"phase": "enforce"`, `"soft"`},
	}
	for _, c := range cases {
		s := validSpec()
		s.Server = c.server
		if c.server == HAProxy {
			s.ServerKeyFile = ""
		}
		soft := must(s)
		s.Phase = Enforce
		enforce := must(s)
		if !strings.Contains(soft, c.soft) || !strings.Contains(enforce, c.enforce) || strings.Contains(enforce, c.gone) {
			t.Errorf("%s: soft must contain %q, enforce %q and not %q\nsoft:\n%s\nenforce:\n%s", c.server, c.soft, c.enforce, c.gone, soft, enforce)
		}
	}
}

// The Apache soft phase cannot serve expired certificates; the operator
// must be told so (docs/origin-servers.md, "Soft phase on Apache" and
// "What clients see").
func TestApacheSoftWarnsAboutExpiredCertificates(t *testing.T) {
	s := validSpec()
	s.Server = Apache
	out, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(out.Notes, "\n"), "EXPIRED client certificate") {
		t.Errorf("apache soft notes do not warn about expired certificates: %q", out.Notes)
	}
}

func TestCABundle(t *testing.T) {
	lab := pkitest.New(t)
	a, b := lab.CAA.CertPEM(), lab.CAB.CertPEM()
	header := append([]byte("# comment header\n"), a...)
	bundle, err := CABundle(header, b, a)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(bytes.Clone(a), b...); !bytes.Equal(bundle, want) {
		t.Errorf("bundle is not A+B without the header and the duplicate:\n%s", bundle)
	}
	key, _ := lab.CAA.KeyPEM()
	if _, err := CABundle(key); err == nil || !strings.Contains(err.Error(), "only certificates") {
		t.Errorf("a private key was accepted into a CA bundle: %v", err)
	}
	if _, err := CABundle(lab.ClientA.CertPEM()); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("a client certificate was accepted as a CA: %v", err)
	}
	path := filepath.Join(t.TempDir(), "sub", "bundle.pem")
	if err := WriteCABundle(path, a, b); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, bundle) {
		t.Errorf("WriteCABundle wrote %q, %v", got, err)
	}
}

func TestOutputWriteMergesBlocks(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte("global\n    maxconn 10\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := validSpec()
	s.Server, s.ServerKeyFile, s.ConfDir = HAProxy, "", dir
	out, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := out.Write(); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(cfg)
	if !bytes.HasPrefix(got, []byte("global\n    maxconn 10\n# BEGIN aopwizard example.com\n")) || bytes.Count(got, []byte("# BEGIN")) != 1 {
		t.Errorf("merged haproxy.cfg:\n%s", got)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode changed to %v", fi.Mode())
	}
	if err := os.WriteFile(cfg, []byte("# BEGIN aopwizard example.com\nno end\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := out.Write(); !errors.Is(err, ErrMarkers) {
		t.Errorf("Write over broken markers: %v, want ErrMarkers", err)
	}
}
