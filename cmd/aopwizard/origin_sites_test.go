package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// sitesTestConfig is an nginx config with one TLS site (two listeners)
// and a plain-HTTP redirect, read through `nginx -T`.
func sitesTestConfig(t *testing.T) string {
	t.Helper()
	servertest.RequireServer(t, render.Nginx)
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	conf := filepath.Join(dir, "nginx.conf")
	site := `server {
    listen 127.0.0.1:18443 ssl;
    listen [::1]:18443 ssl;
    server_name a.example.test www.a.example.test;
    ssl_certificate ` + lab.Path(pkitest.ServerCert) + `;
    ssl_certificate_key ` + lab.Path(pkitest.ServerKey) + `;
    ssl_verify_client optional;
    ssl_client_certificate ` + lab.Path(pkitest.CAAFile) + `;
}
server {
    listen 127.0.0.1:18080;
    server_name plain.example.test;
    return 301 https://$host$request_uri;
}
`
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	main := "pid " + dir + "/nginx.pid;\nevents {}\nhttp {\n    include " + dir + "/site.conf;\n}\n"
	if err := os.WriteFile(conf, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

func TestOriginSitesCommand(t *testing.T) {
	conf := sitesTestConfig(t)
	dir := filepath.Dir(conf)
	base := []string{"origin", "sites", "--server", "nginx", "--config", conf, "--error-log", filepath.Join(dir, "error.log")}

	code, out, errs := probeRunCLI(t, append(base, "--hostname", "www.a.example.test")...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr %s", code, errs)
	}
	for _, want := range []string{
		"www.a.example.test\n",
		"nginx " + filepath.Join(dir, "site.conf") + ":1, matched exact by \"www.a.example.test\"",
		"listen:       127.0.0.1:18443 ssl; [::1]:18443 ssl",
		"client verification: ssl_verify_client optional; (" + filepath.Join(dir, "site.conf") + ":7)",
		"also serves:  a.example.test",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, errs = probeRunCLI(t, append(base, "--hostname", "a.example.test", "--hostname", "plain.example.test", "--json")...)
	if code != exitFailure || !strings.Contains(errs, "plain.example.test") {
		t.Fatalf("a hostname without a TLS block: exit %d, stderr %q; want 1 naming it", code, errs)
	}
	var rep sitesReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rep.Hosts) != 2 || len(rep.Hosts[0].Blocks) != 1 || rep.Hosts[1].Reason != "plain-only" || rep.Hosts[0].Blocks[0].Line != 1 {
		t.Errorf("json: %+v", rep)
	}

	// Without --hostname: every TLS hostname.
	code, out, _ = probeRunCLI(t, base...)
	if code != exitOK || !strings.Contains(out, "a.example.test\n") || !strings.Contains(out, "www.a.example.test\n") || strings.Contains(out, "plain.example.test") {
		t.Errorf("listing all: exit %d\n%s", code, out)
	}
}

func TestOriginSitesCommandBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"origin", "sites", "--server", "caddy"}, "caddy"},
		{[]string{"origin", "sites", "--server", "nginx", "--hostname", "a b.example"}, "not a hostname"},
	} {
		code, _, errs := probeRunCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.err)
		}
	}
}
