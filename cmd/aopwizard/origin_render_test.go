package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/builtin"
	"github.com/aopwizard/aopwizard/pki/pkitest"
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

// Issue 7, defect 8: without --cert the error was `server certificate ""
// must be an absolute path`, and it hid the other missing inputs.
func TestOriginRenderReportsAllMissingInputs(t *testing.T) {
	code, _, errs := runOriginCLI(t, "origin", "render", "--server", "nginx", "--phase", "soft")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, errs)
	}
	for _, want := range []string{
		"4 inputs are missing or invalid",
		"--cert: server certificate is missing: the server presents it to Cloudflare",
		"--key: server key is missing",
		"--ca-file: CA bundle is missing",
		"--id: managed-block id is missing",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, `""`) {
		t.Errorf("stderr quotes an empty path instead of saying what is missing:\n%s", errs)
	}
}

// Issue 7, defect 2: a client certificate given as --ca-file rendered (and
// applied) fine; enforce then rejected Cloudflare. --client-cert must chain
// to the bundle.
func TestOriginRenderChecksCABundle(t *testing.T) {
	lab := pkitest.New(t)
	base := []string{"origin", "render", "--server", "nginx", "--phase", "enforce", "--hostname", "example.com",
		"--cert", lab.Path(pkitest.ServerCert), "--key", lab.Path(pkitest.ServerKey)}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--ca-file", lab.Path("clientA.pem")}, exitUsage, "--ca-file: CA bundle: " + lab.Path("clientA.pem") + ": not a usable CA bundle: certificate 1 (CN=client-A) is not a CA"},
		{[]string{"--ca-file", lab.Path(pkitest.CAAFile), "--client-cert", lab.Path("clientB.pem")}, exitUsage, "--client-cert: client certificate " + `"` + lab.Path("clientB.pem") + `"` + ": the client certificate does not chain to the CA bundle"},
		{[]string{"--ca-file", lab.Path(pkitest.CAAFile), "--client-cert", lab.Path("clientA.pem")}, exitOK, "note: CA bundle " + lab.Path(pkitest.CAAFile) + ": CA CN=Lab AOP CA A,O=Lab expires on"},
	}
	for _, c := range cases {
		code, _, errs := runOriginCLI(t, append(base, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit %d naming %q", c.args, code, errs, c.code, c.want)
		}
	}
}

// Issue 7, defect 4: a CA path with a space gave a config nginx -t
// rejects, and --access-log '/tmp/a b";x' went verbatim into nginx and
// Apache configs.
func TestOriginRenderQuotesPaths(t *testing.T) {
	lab := pkitest.New(t)
	caDir := filepath.Join(lab.Dir, "x y")
	if err := os.Mkdir(caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(caDir, "ca.crt")
	data, err := os.ReadFile(lab.Path(pkitest.CAAFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.MkdirTemp("", "aopwizard-render-") // not t.TempDir: nginx workers need to traverse it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	code, _, errs := runOriginCLI(t, "origin", "render", "--server", "nginx", "--phase", "soft", "--ca-file", ca, "--id", "example.com",
		"--standalone", "--out", out, "--listen", "127.0.0.1:18443",
		"--cert", lab.Path(pkitest.ServerCert), "--key", lab.Path(pkitest.ServerKey))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if nginx, err := exec.LookPath("nginx"); err == nil || os.Getenv("AOPWIZARD_REQUIRE_SERVERS") == "1" {
		if err != nil {
			nginx = "/usr/sbin/nginx"
		}
		got, err := exec.Command(nginx, "-t", "-c", filepath.Join(out, "nginx.conf"), "-e", filepath.Join(out, "error.log")).CombinedOutput()
		if err != nil {
			t.Errorf("nginx -t rejects the config for CA path %q: %v\n%s", ca, err, got)
		}
	}

	for server, want := range map[string]string{"nginx": `access_log "/tmp/a b\";x" `, "apache": `CustomLog "/tmp/a b\";x" `} {
		code, stdout, errs := runOriginCLI(t, "origin", "render", "--server", server, "--phase", "soft", "--ca-file", ca, "--id", "example.com",
			"--cert", "/etc/ssl/o.pem", "--key", "/etc/ssl/o.key", "--access-log", `/tmp/a b";x`)
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("%s: exit %d, stderr %s; want %q in:\n%s", server, code, errs, want, stdout)
		}
	}
	code, _, errs = runOriginCLI(t, "origin", "render", "--server", "nginx", "--phase", "soft", "--ca-file", ca, "--id", "example.com",
		"--cert", "/etc/ssl/o.pem", "--key", "/etc/ssl/o.key", "--access-log", "/tmp/a\nerror_log /tmp/x")
	if code != exitUsage || !strings.Contains(errs, "--access-log: access log") || !strings.Contains(errs, "control character") {
		t.Errorf("newline in --access-log: exit %d, stderr %s", code, errs)
	}
}
