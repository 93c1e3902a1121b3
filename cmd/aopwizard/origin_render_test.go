package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/builtin"
)

func runOriginCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestOriginRenderPrintsFilesAndNotes(t *testing.T) {
	code, out, errs := runOriginCLI(t, "origin", "render", "--server", "nginx", "--phase", "soft",
		"--ca-file", "/etc/ssl/aop/zone-ca.pem", "--hostname", "www.example.com", "--hostname", "example.com",
		"--cert", "/etc/ssl/origin.pem", "--key", "/etc/ssl/origin.key")
	if code != exitOK {
		t.Fatalf("exit %d, stderr: %s", code, errs)
	}
	for _, want := range []string{
		"==> /etc/nginx/conf.d/aopwizard-example.com.conf <==\n# BEGIN aopwizard example.com\n",
		"server_name example.com www.example.com;",
		"ssl_verify_client optional;",
		"error_page 495 = @aopwizard_soft;",
		"ssl_client_certificate /etc/ssl/aop/zone-ca.pem;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note:") || !strings.Contains(errs, "note: nginx soft:") {
		t.Errorf("notes must go to stderr only; stderr:\n%s", errs)
	}
}

func TestOriginRenderBadInputIsUsageError(t *testing.T) {
	base := []string{"origin", "render", "--cert", "/c.pem", "--key", "/k.pem"}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--phase", "soft"}, "--server: server is missing"},
		{[]string{"--server", "iis", "--phase", "soft", "--id", "x"}, `server "iis" is not supported`},
		{[]string{"--server", "nginx", "--phase", "strict", "--id", "x"}, `phase "strict" is unknown`},
		{[]string{"--server", "nginx", "--phase", "soft", "--id", "x"}, "zone mode needs the CA bundle file"},
		{[]string{"--server", "nginx", "--phase", "soft", "--host-ca", "a.example.com"}, "is not HOST=PATH"},
		{[]string{"--server", "nginx", "--phase", "soft", "--mode", "hostname", "--hostname", "a.example.com"}, "--host-ca: hostname CA bundle of hostname a.example.com is missing"},
		{[]string{"--server", "nginx", "--phase", "soft", "--ca-file", "/ca.pem"}, "--id: managed-block id is missing"},
		{[]string{"--server", "nginx", "--phase", "soft", "--ca-file", "/ca.pem", "--hostname", "bad_name!"}, "not a valid DNS name"},
		{[]string{"--server", "caddy", "--phase", "soft", "--ca-file", "/ca.pem", "--id", "x", "--standalone", "--out", "/tmp"}, "--standalone: standalone config exists for nginx, apache, haproxy and builtin, not caddy"},
		{[]string{"--server", "nginx", "--phase", "soft", "--ca-file", "/ca.pem", "--id", "x", "--upstream", "http://app:8080/api"}, "no path"},
	}
	for _, c := range cases {
		code, _, errs := runOriginCLI(t, append(base, c.args...)...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", c.args, code, errs, c.want)
		}
	}
}

// Relative paths are made absolute: servers would resolve them against
// their own directories.
func TestOriginRenderMakesPathsAbsolute(t *testing.T) {
	code, out, errs := runOriginCLI(t, "origin", "render", "--server", "apache", "--phase", "enforce",
		"--mode", "hostname", "--host-ca", "a.example.com=a-ca.pem", "--cert", "c.pem", "--key", "k.pem")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "SSLCACertificateFile  "+filepath.Join(wd, "a-ca.pem")) || !strings.Contains(out, "SSLVerifyClient require") {
		t.Errorf("hostname-mode apache render lacks the absolute CA path or require:\n%s", out)
	}
}

func TestOriginRenderOutWritesFiles(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runOriginCLI(t, "origin", "render", "--server", "builtin", "--phase", "soft", "--mode", "global",
		"--id", "demo", "--standalone", "--out", dir, "--listen", "127.0.0.1:18443",
		"--cert", "/etc/aop/srv.pem", "--key", "/etc/aop/srv.key")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	cfgPath := filepath.Join(dir, "builtin.json")
	if !strings.Contains(out, "wrote "+cfgPath) {
		t.Errorf("stdout does not list %s:\n%s", cfgPath, out)
	}
	cfg, err := builtin.Load(cfgPath)
	if err != nil {
		t.Fatalf("the written builtin config does not load: %v", err)
	}
	// Global mode writes Cloudflare's CA next to the config and points at it.
	if ca, err := os.ReadFile(cfg.CAFile); err != nil || !bytes.HasPrefix(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Errorf("global CA file %s: %v", cfg.CAFile, err)
	}
	if cfg.AccessLog != filepath.Join(dir, "access.log") {
		t.Errorf("access log %s, want it in the runtime dir %s", cfg.AccessLog, dir)
	}
}

// HAProxy's frontend is a managed block: --out merges it into an existing
// haproxy.cfg and keeps the operator's own sections.
func TestOriginRenderOutMergesHAProxyBlock(t *testing.T) {
	dir := t.TempDir()
	operator := "global\n    log /dev/log local0\n\nfrontend mine\n    bind :80\n"
	if err := os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(operator), 0o640); err != nil {
		t.Fatal(err)
	}
	args := []string{"origin", "render", "--server", "haproxy", "--mode", "zone", "--ca-file", "/etc/aop/ca.pem",
		"--id", "example.com", "--cert", "/etc/haproxy/origin.pem", "--out", dir}
	for _, phase := range []string{"soft", "enforce"} {
		if code, _, errs := runOriginCLI(t, append(args, "--phase", phase)...); code != exitOK {
			t.Fatalf("%s: exit %d: %s", phase, code, errs)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "haproxy.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if !strings.HasPrefix(s, operator) || strings.Count(s, "# BEGIN aopwizard example.com") != 1 || !strings.Contains(s, "verify required") || strings.Contains(s, "ca-ignore-err") {
		t.Errorf("merged haproxy.cfg is wrong (want the operator's part intact and one enforce block):\n%s", s)
	}
	if fi, err := os.Stat(filepath.Join(dir, "haproxy.cfg")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("haproxy.cfg permissions changed: %v %v", fi.Mode(), err)
	}
}
