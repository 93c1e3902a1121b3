package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"charm.land/fang/v2"

	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// siteLab is an operator's own site on a real nginx, Apache or HAProxy
// (static files or an application, a custom 404, a redirect, an
// internal-only path), started on 127.0.0.1, that `origin apply --target
// existing` edits in place.
type siteLab struct {
	lab        *pkitest.Lab
	kind       render.Server
	dir, addr  string
	addr6      string // nginx's IPv6 listener, when ::1 is usable here
	site, conf string // the site's file (nginx, Apache: behind a sites-enabled symlink) and the main config
	evidence   string
	cpDir      string
	run        *servertest.Running
}

const siteHost = "a.example.test"

// siteRequests are the paths whose answers the site's users rely on.
var siteRequests = []string{"/", "/style.css", "/missing.html", "/go", "/private/x"}

// newSiteLab starts nginx with the operator's site; extra goes into its
// server block (e.g. a client-verification directive it already had).
func newSiteLab(t *testing.T, extra string) *siteLab {
	t.Helper()
	return newServerSite(t, render.Nginx, extra)
}

func newServerSite(t *testing.T, kind render.Server, extra string) *siteLab {
	t.Helper()
	servertest.RequireServer(t, kind)
	l := &siteLab{lab: pkitest.New(t), kind: kind, dir: servertest.Dir(t), cpDir: filepath.Join(t.TempDir(), "cp")}
	l.addr = fmt.Sprintf("127.0.0.1:%d", servertest.FreePort(t))
	d := l.dir
	l.evidence = filepath.Join(d, "aop.log")
	files := map[string]string{
		"www/index.html": "<h1>shop</h1>\n",
		"www/style.css":  "h1 { color: red }\n",
		"www/404.html":   "<p>custom not found</p>\n",
	}
	var opts []servertest.Option
	switch kind {
	case render.Nginx:
		l.site, l.conf = filepath.Join(d, "sites-available", "shop"), filepath.Join(d, "nginx.conf")
		files["nginx.conf"] = "worker_processes 1;\npid " + d + "/nginx.pid;\nerror_log " + d + "/error.log info;\nevents { worker_connections 64; }\n" +
			"http {\n    client_body_temp_path " + d + "/t-body;\n    proxy_temp_path " + d + "/t-proxy;\n    fastcgi_temp_path " + d + "/t-fcgi;\n" +
			"    uwsgi_temp_path " + d + "/t-uwsgi;\n    scgi_temp_path " + d + "/t-scgi;\n" +
			"    types { text/html html; text/css css; }\n    access_log " + d + "/access.log;\n    include " + d + "/sites-enabled/*;\n}\n"
		listen6 := ""
		if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
			// A second listener: the listener check dials every address
			// of the block.
			ln.Close()
			l.addr6 = "[::1]:" + strings.TrimPrefix(l.addr, "127.0.0.1:")
			listen6 = "    listen " + l.addr6 + " ssl;\n"
		}
		files["sites-available/shop"] = "# The operator's shop.\nserver {\n    listen " + l.addr + " ssl;\n" + listen6 + "    server_name " + siteHost + " *.shop.test;\n" +
			"    ssl_certificate " + l.lab.Path(pkitest.ServerCert) + ";\n    ssl_certificate_key " + l.lab.Path(pkitest.ServerKey) + ";\n" + extra +
			"    root " + d + "/www;\n    error_page 404 /404.html;\n\n    location / {\n        try_files $uri $uri/ =404;\n    }\n" +
			"    location /private/ {\n        internal;\n    }\n    location = /go {\n        return 302 /index.html;\n    }\n}\n"
	case render.Apache:
		l.site, l.conf = filepath.Join(d, "sites-available", "shop"), filepath.Join(d, "apache2.conf")
		var mods strings.Builder
		for _, m := range []string{"mpm_event", "authz_core", "ssl", "dir", "mime", "alias"} {
			fmt.Fprintf(&mods, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
		}
		files["apache2.conf"] = "ServerRoot /etc/apache2\n" + mods.String() + "User www-data\nGroup www-data\nServerName localhost\n" +
			"PidFile " + d + "/apache2.pid\nDefaultRuntimeDir " + d + "\nMutex file:" + d + " default\nErrorLog " + d + "/error.log\n" +
			"TypesConfig /etc/mime.types\nSSLProtocol -all +TLSv1.2 +TLSv1.3\nListen " + l.addr + "\n" +
			"CustomLog " + d + "/access.log \"%m %U %>s\"\nIncludeOptional " + d + "/sites-enabled/*\n"
		files["sites-available/shop"] = "# The operator's shop.\n<VirtualHost " + l.addr + ">\n\tServerName " + siteHost + "\n\tSSLEngine on\n" +
			"\tSSLCertificateFile " + l.lab.Path(pkitest.ServerCert) + "\n\tSSLCertificateKeyFile " + l.lab.Path(pkitest.ServerKey) + "\n" +
			"\tDocumentRoot " + d + "/www\n\t<Directory " + d + "/www>\n\t\tRequire all granted\n\t</Directory>\n" +
			"\t<Location /private/>\n\t\tRequire all denied\n\t</Location>\n\tErrorDocument 404 /404.html\n\tRedirect 302 /go /index.html\n" +
			"</VirtualHost>\n"
	case render.HAProxy:
		l.conf = filepath.Join(d, "haproxy.cfg")
		l.site, l.evidence = l.conf, filepath.Join(d, "stdout.log")
		opts = append(opts, servertest.Stdout(l.evidence))
		app := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(d, "www"))))
		t.Cleanup(app.Close)
		files["haproxy.cfg"] = "global\n    log stdout format raw local0\n\ndefaults\n    mode http\n    log global\n    timeout connect 5s\n" +
			"    timeout client 30s\n    timeout server 30s\n\n# The operator's shop.\nfrontend fe_shop\n" +
			"    bind " + l.addr + " ssl crt " + l.lab.Path(pkitest.ServerBundle) + " alpn http/1.1\n" +
			"    http-request redirect location /index.html code 302 if { path /go }\n" +
			"    http-request deny deny_status 403 if { path_beg /private/ }\n    default_backend be_app\n\n" +
			"backend be_app\n    server app " + strings.TrimPrefix(app.URL, "http://") + "\n"
	}
	servertest.WriteFiles(t, d, files)
	if kind != render.HAProxy {
		if err := os.MkdirAll(filepath.Join(d, "sites-enabled"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(l.site, filepath.Join(d, "sites-enabled", "shop")); err != nil {
			t.Fatal(err)
		}
	}
	l.run = servertest.Start(t, kind, l.conf, opts...)
	return l
}

// serverFlags say where the lab's server is, as an operator of another
// layout would.
func (l *siteLab) serverFlags() []string {
	f := []string{"--server", string(l.kind), "--config", l.conf, "--checkpoint-dir", l.cpDir, "--systemd=false"}
	switch l.kind {
	case render.Nginx:
		f = append(f, "--error-log", l.run.ErrorLog)
	case render.HAProxy:
		f = append(f, "--pid-file", l.run.PIDFile)
	}
	return f
}

// args are the apply flags for phase, trusting CA A, without a target.
func (l *siteLab) args(phase string, more ...string) []string {
	args := append([]string{"origin", "apply", "--phase", phase, "--hostname", siteHost, "--id", "example.test",
		"--ca-file", l.lab.Path(pkitest.CAAFile), "--access-log", l.evidence}, l.serverFlags()...)
	return append(args, more...)
}

func (l *siteLab) rollback(more ...string) []string {
	return append(append([]string{"origin", "rollback"}, l.serverFlags()...), more...)
}

// bytesOf reads the operator's files.
func (l *siteLab) bytesOf(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{l.site, l.conf} {
		c, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "==> %s\n%s", p, c)
	}
	return b.String()
}

// answers asks every path of the site as a client presenting cert (nil:
// none), on a new connection each (nginx closes one after a certificate
// error, and Cloudflare would handshake again).
func (l *siteLab) answers(cert *pki.Pair) (string, error) {
	c := servertest.Client(l.lab, siteHost, cert)
	var b strings.Builder
	for _, a := range l.addrs() {
		for _, p := range siteRequests {
			resp, err := c.Get("https://" + a + p)
			if err != nil {
				return "", err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&b, "%s %s: %d %s location=%q %q\n", a, p, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), body)
		}
	}
	return b.String(), nil
}

// addrs are the site's listen addresses.
func (l *siteLab) addrs() []string {
	if l.addr6 != "" {
		return []string{l.addr, l.addr6}
	}
	return []string{l.addr}
}

// expectAnswers polls until a client presenting cert gets want (a reload
// lands asynchronously: docs/origin-servers.md, "Reloads are asynchronous").
func (l *siteLab) expectAnswers(t *testing.T, what string, cert *pki.Pair, want func(string) error) {
	t.Helper()
	servertest.Eventually(t, what, func() error {
		got, err := l.answers(cert)
		if err != nil {
			return err
		}
		return want(got)
	})
}

// expectRefused polls until a client presenting cert is refused: by a TLS
// alert (Apache, HAProxy) or with HTTP 400 for every request (nginx).
func (l *siteLab) expectRefused(t *testing.T, what string, cert *pki.Pair) {
	t.Helper()
	servertest.Eventually(t, what, func() error {
		got, err := l.answers(cert)
		if err != nil || strings.Count(got, ": 400 ") == len(siteRequests)*len(l.addrs()) {
			return nil
		}
		return fmt.Errorf("not refused:\n%s", got)
	})
}

// expectEvidence runs `origin evidence` on the lab's evidence log until it
// counts the host's requests with a valid and with no certificate, and a
// failure for each of reasons.
func (l *siteLab) expectEvidence(t *testing.T, reasons ...string) {
	t.Helper()
	servertest.Eventually(t, "origin evidence counts every result", func() error {
		code, out, errs := runOriginCLI(t, "origin", "evidence", "--log", l.evidence, "--json")
		var rep evidence.Report
		if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil {
			return fmt.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		h := rep.Host(siteHost)
		if h.Success == 0 || h.None == 0 {
			return fmt.Errorf("counts %+v", h)
		}
		for _, r := range reasons {
			if h.FailedReasons[r] == 0 {
				return fmt.Errorf("no failure %q in %+v", r, h)
			}
		}
		return nil
	})
}

func sameAs(before string) func(string) error {
	return func(got string) error {
		if got != before {
			return fmt.Errorf("answers differ:\nbefore:\n%s\nnow:\n%s", before, got)
		}
		return nil
	}
}

// TestOriginApplyTargetExisting is issue 10 through the CLI on a real
// nginx site: the default target is the site itself; --dry-run shows the
// diff of the operator's file and writes nothing; the soft phase keeps
// every answer for no, right, wrong-CA and expired certificates and logs
// each result; enforce keeps them for the right certificate only; a hand
// edit since the change stops rollback unless --force; rollback restores
// the files byte for byte and the answers.
func TestOriginApplyTargetExisting(t *testing.T) {
	t.Parallel()
	l := newSiteLab(t, "")
	clients := map[string]*pki.Pair{"none": nil, "right": l.lab.ClientA, "wrong-ca": l.lab.ClientB, "expired": l.lab.ClientAExpired}
	before, err := l.answers(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/missing.html: 404", "custom not found", "/go: 302", "/private/x: 404", "/style.css: 200 text/css"} {
		if !strings.Contains(before, want) {
			t.Fatalf("the baseline does not exercise %q:\n%s", want, before)
		}
	}
	original := l.bytesOf(t)

	code, out, errs := runOriginCLI(t, l.args("soft", "--dry-run")...)
	if code != exitOK || !strings.Contains(errs, "Target existing: the site's own TLS blocks serve "+siteHost) ||
		!strings.Contains(out, "--- "+l.site) || !strings.Contains(out, "+    # BEGIN aopwizard example.test/1") ||
		!strings.Contains(out, "+    ssl_verify_client optional_no_ca;") {
		t.Fatalf("dry run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if l.bytesOf(t) != original {
		t.Fatal("--dry-run changed the operator's files")
	}

	code, out, errs = runOriginCLI(t, l.args("soft", "--yes")...)
	if code != exitOK || !strings.Contains(out, "applied nginx soft phase to the existing site") || !strings.Contains(errs, "Listener OK") ||
		!strings.Contains(errs, "warning: "+filepath.Join(l.dir, "sites-enabled", "shop")+":2 also serves *.shop.test: they get client-certificate verification too") {
		t.Fatalf("apply soft: exit %d\nstdout:\n%s\nstderr:\n%s\n%s", code, out, errs, l.run.ErrorTail())
	}
	if fi, err := os.Lstat(filepath.Join(l.dir, "sites-enabled", "shop")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("sites-enabled/shop is no longer a symlink: %v", err)
	}
	for name, cert := range clients {
		l.expectAnswers(t, "soft phase, "+name+" certificate: the site's answers", cert, sameAs(before))
	}
	servertest.Eventually(t, "the evidence log shows every verification result", func() error {
		log, _ := os.ReadFile(filepath.Join(l.dir, "aop.log"))
		for _, want := range []string{`verify="NONE"`, `verify="SUCCESS"`, `verify="FAILED:unable to verify the first certificate"`, `verify="FAILED:certificate has expired"`} {
			if !strings.Contains(string(log), want) {
				return fmt.Errorf("evidence log lacks %s:\n%s", want, log)
			}
		}
		return nil
	})
	l.expectEvidence(t, "certificate has expired", "unable to verify the first certificate")

	code, out, errs = runOriginCLI(t, l.args("enforce", "--yes")...)
	if code != exitOK || !strings.Contains(out, "applied nginx enforce phase to the existing site") {
		t.Fatalf("apply enforce: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	l.expectAnswers(t, "enforce phase, right certificate: the site's answers", l.lab.ClientA, sameAs(before))
	for _, name := range []string{"none", "wrong-ca", "expired"} {
		l.expectRefused(t, "enforce phase, "+name+" certificate refused", clients[name])
	}

	// A hand edit since the change: rollback refuses, --force discards it.
	enforced, _ := os.ReadFile(l.site)
	if err := os.WriteFile(l.site, append(enforced, "# edited by hand\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runOriginCLI(t, l.rollback()...)
	if code != exitFailure || !strings.Contains(errs, "file changed since aopwizard wrote it: "+l.site) || !strings.Contains(errs, "--force") {
		t.Fatalf("rollback after a hand edit: exit %d, stderr:\n%s", code, errs)
	}
	if got, _ := os.ReadFile(l.site); !strings.HasSuffix(string(got), "# edited by hand\n") {
		t.Fatal("the refused rollback changed the site file")
	}
	for _, more := range [][]string{{"--force"}, nil} {
		if code, out, errs = runOriginCLI(t, l.rollback(more...)...); code != exitOK || !strings.Contains(out, "restored "+l.site) {
			t.Fatalf("rollback %v: exit %d\nstdout:\n%s\nstderr:\n%s", more, code, out, errs)
		}
	}
	if got := l.bytesOf(t); got != original {
		t.Fatalf("rollback did not restore the files byte for byte:\n%s", got)
	}
	for name, cert := range clients {
		l.expectAnswers(t, "after rollback, "+name+" certificate: the site's answers", cert, sameAs(before))
	}
}

// TestOriginApplyTargetChoiceAndRefusals: the default target follows
// discovery, and what needs the operator's word is refused as bad input
// (exit 2) without its flag, with nothing changed.
func TestOriginApplyTargetChoiceAndRefusals(t *testing.T) {
	t.Parallel()
	// The site already verifies clients, against CA B: a conflict.
	l := newSiteLab(t, "    ssl_client_certificate "+pkitest.New(t).Path(pkitest.CABFile)+";\n    ssl_verify_client optional;\n")
	original := l.bytesOf(t)
	withHost := func(host string, more ...string) []string {
		args := l.args("soft", more...)
		for i := range args {
			if args[i] == siteHost {
				args[i] = host
			}
		}
		return args
	}
	certFlags := []string{"--cert", l.lab.Path(pkitest.ServerCert), "--key", l.lab.Path(pkitest.ServerKey)}

	cases := []struct {
		name      string
		args      []string
		code      int
		out, errs []string
	}{
		{"conflict without --override-conflicts", l.args("soft", "--yes"), exitUsage, nil,
			[]string{"Target existing", ":" + fmt.Sprint(7+boolInt(l.addr6 != "")) + ": ssl_client_certificate ", "resolution:", "pass --override-conflicts"}},
		{"conflict, dry run", l.args("soft", "--dry-run"), exitOK,
			[]string{"-    ssl_verify_client optional;", "+    # aopwizard example.test replaced: ssl_verify_client optional;"},
			[]string{"the diff below assumes --override-conflicts"}},
		{"no block, no certificate for a new one", withHost("b.example.test", "--yes"), exitUsage, nil,
			[]string{"no TLS block serves", "b.example.test", "add TLS to the site first, or use --target managed"}},
		{"--target existing, no block", withHost("b.example.test", append([]string{"--target", "existing", "--yes"}, certFlags...)...), exitUsage, nil,
			[]string{"no TLS block serves", "add TLS to the site first, or use --target managed"}},
		{"no block: managed", withHost("b.example.test", append([]string{"--dry-run"}, certFlags...)...), exitOK,
			[]string{"+++ " + filepath.Join(l.dir, "conf.d", "aopwizard-example.test.conf"), "+    server_name b.example.test;"},
			[]string{"Target managed: no TLS block serves b.example.test"}},
		{"--target managed needs the certificate", l.args("soft", "--target", "managed", "--dry-run"), exitUsage, nil,
			[]string{"--cert: "}},
		{"wildcard match without --allow-loose", withHost("x.shop.test", "--yes"), exitUsage, nil,
			[]string{`loose match: x.shop.test is served by ` + filepath.Join(l.dir, "sites-enabled", "shop") + `:2 through "*.shop.test"`, "pass --allow-loose"}},
		{"wildcard match, dry run", withHost("x.shop.test", "--dry-run"), exitOK, []string{"+    # BEGIN aopwizard example.test/1"},
			[]string{"the diff below assumes --allow-loose", "the diff below assumes --override-conflicts"}},
		{"--target existing without a hostname", []string{"origin", "apply", "--server", "nginx", "--phase", "soft", "--target", "existing",
			"--ca-file", l.lab.Path(pkitest.CAAFile), "--id", "x", "--config", l.conf, "--error-log", l.run.ErrorLog, "--systemd=false"}, exitUsage, nil,
			[]string{"--target existing needs --hostname"}},
		{"no hostname: managed, which needs the certificate", []string{"origin", "apply", "--server", "nginx", "--phase", "soft",
			"--ca-file", l.lab.Path(pkitest.CAAFile), "--id", "x", "--config", l.conf, "--error-log", l.run.ErrorLog, "--systemd=false", "--dry-run"}, exitUsage, nil,
			[]string{"Target managed: no hostname given", "--cert: "}},
		{"unknown target", l.args("soft", "--target", "elsewhere"), exitUsage, nil, []string{"--target: target \"elsewhere\" is unknown"}},
	}
	for _, c := range cases {
		code, out, errs := runOriginCLI(t, c.args...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", c.name, code, c.code, out, errs)
			continue
		}
		for _, w := range c.out {
			if !strings.Contains(out, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", c.name, w, out)
			}
		}
		for _, w := range c.errs {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", c.name, w, errs)
			}
		}
		if l.bytesOf(t) != original {
			t.Fatalf("%s changed the operator's files", c.name)
		}
	}

	// With the flag the conflict is resolved, and rollback restores it.
	code, out, errs := runOriginCLI(t, l.args("soft", "--yes", "--override-conflicts")...)
	if code != exitOK || !strings.Contains(out, "applied nginx soft phase to the existing site") {
		t.Fatalf("apply with --override-conflicts: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	l.expectAnswers(t, "soft phase trusts CA A now", l.lab.ClientA, func(got string) error {
		if !strings.Contains(got, "/: 200") {
			return fmt.Errorf("%s", got)
		}
		return nil
	})
	if code, out, errs = runOriginCLI(t, l.rollback()...); code != exitOK {
		t.Fatalf("rollback: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if l.bytesOf(t) != original {
		t.Fatal("rollback did not restore the conflicting directives byte for byte")
	}
}

// TestOriginApplyTargetExistingApacheHAProxy: the same through the CLI on
// an Apache virtual host and an HAProxy frontend. Apache's soft phase
// still refuses an expired certificate (docs/origin-servers.md, "Soft
// phase on Apache"); HAProxy's serves it.
func TestOriginApplyTargetExistingApacheHAProxy(t *testing.T) {
	t.Parallel()
	for _, kind := range []render.Server{render.Apache, render.HAProxy} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			l := newServerSite(t, kind, "")
			before, err := l.answers(nil)
			if err != nil {
				t.Fatalf("%v\n%s", err, l.run.ErrorTail())
			}
			for _, want := range []string{"/missing.html: 404", "/go: 302", "/private/x: 403", "/style.css: 200 text/css"} {
				if !strings.Contains(before, want) {
					t.Fatalf("the baseline does not exercise %q:\n%s", want, before)
				}
			}
			original := l.bytesOf(t)
			code, out, errs := runOriginCLI(t, l.args("soft", "--yes")...)
			if code != exitOK || !strings.Contains(errs, "Target existing") || !strings.Contains(out, "applied "+string(kind)+" soft phase to the existing site") {
				t.Fatalf("apply soft: exit %d\nstdout:\n%s\nstderr:\n%s\n%s", code, out, errs, l.run.ErrorTail())
			}
			soft := map[string]*pki.Pair{"none": nil, "right": l.lab.ClientA, "wrong-ca": l.lab.ClientB, "expired": l.lab.ClientAExpired}
			reasons := []string{"unable to verify the first certificate", "certificate has expired"}
			if kind == render.Apache {
				delete(soft, "expired")
				reasons = reasons[:1]
				l.expectRefused(t, "apache soft phase, expired certificate refused", l.lab.ClientAExpired)
			}
			for name, cert := range soft {
				l.expectAnswers(t, string(kind)+" soft phase, "+name+" certificate: the site's answers", cert, sameAs(before))
			}
			l.expectEvidence(t, reasons...)
			if kind == render.Apache {
				// The vhost had no CustomLog of its own: the server-level
				// one is repeated next to the evidence log, so it keeps
				// getting the site's requests.
				servertest.Eventually(t, "the server-level access log still gets the requests", func() error {
					log, _ := os.ReadFile(filepath.Join(l.dir, "access.log"))
					if n := strings.Count(string(log), "GET /style.css 200"); n < 1+len(soft) {
						return fmt.Errorf("%d lines for /style.css, want the baseline's and every soft-phase client's:\n%s", n, log)
					}
					return nil
				})
			}

			if code, out, errs = runOriginCLI(t, l.args("enforce", "--yes")...); code != exitOK {
				t.Fatalf("apply enforce: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
			}
			l.expectAnswers(t, "enforce phase, right certificate: the site's answers", l.lab.ClientA, sameAs(before))
			for name, cert := range map[string]*pki.Pair{"none": nil, "wrong-ca": l.lab.ClientB, "expired": l.lab.ClientAExpired} {
				l.expectRefused(t, "enforce phase, "+name+" certificate refused", cert)
			}
			for range 2 {
				if code, out, errs = runOriginCLI(t, l.rollback()...); code != exitOK {
					t.Fatalf("rollback: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
				}
			}
			if l.bytesOf(t) != original {
				t.Fatalf("rollback did not restore the files byte for byte:\n%s", l.bytesOf(t))
			}
			l.expectAnswers(t, "after rollback: the site's answers", nil, sameAs(before))
		})
	}
}

// openPTY returns the two ends of a new pseudo-terminal (Linux).
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	var n, unlock uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// runOnTerminal runs `origin apply args` with stdin and stdout on a
// pseudo-terminal, answering each "[y/N] " question with the next of
// answers, and returns the exit code, what the terminal showed and stderr.
func runOnTerminal(t *testing.T, args []string, answers ...string) (int, string, string) {
	t.Helper()
	master, tty := openPTY(t)
	shown := make(chan string, 1)
	go func() {
		var seen strings.Builder
		buf := make([]byte, 4096)
		asked := 0
		for {
			n, err := master.Read(buf)
			seen.Write(buf[:n])
			for asked < len(answers) && strings.Count(seen.String(), "[y/N] ") > asked {
				_, _ = master.Write([]byte(answers[asked] + "\n"))
				asked++
			}
			if err != nil {
				shown <- seen.String()
				return
			}
		}
	}()
	c := newOriginApplyCmdWith(originApplyHooks{})
	var errb bytes.Buffer
	c.SetArgs(args[2:]) // without "origin apply"
	c.SetIn(tty)
	c.SetOut(tty)
	c.SetErr(&errb)
	c.SilenceUsage, c.SilenceErrors = true, true
	err := c.ExecuteContext(context.Background())
	if err != nil {
		errorHandler(&errb, fang.Styles{}, err)
	}
	tty.Close() // the reader sees EIO once the terminal has no other end
	return exitCode(context.Background(), err), <-shown, errb.String()
}

// On a terminal without --yes, a conflict is asked about instead of
// needing --override-conflicts: "no" changes nothing (exit 1), "yes" to it
// and to the diff applies.
func TestOriginApplyTargetAsksOnATerminal(t *testing.T) {
	t.Parallel()
	l := newSiteLab(t, "    ssl_verify_client optional_no_ca;\n")
	original := l.bytesOf(t)
	code, shown, errs := runOnTerminal(t, l.args("soft"), "n")
	if code != exitFailure || !strings.Contains(shown, "Replace these directives (the originals stay as comments)? [y/N] ") ||
		!strings.Contains(errs, "conflict: ") || !strings.Contains(errs, "not applied: the answer was not yes") {
		t.Fatalf("answered no: exit %d\nterminal:\n%s\nstderr:\n%s", code, shown, errs)
	}
	if l.bytesOf(t) != original {
		t.Fatal("answering no changed the operator's files")
	}
	code, shown, errs = runOnTerminal(t, l.args("soft"), "y", "yes")
	if code != exitOK || !strings.Contains(shown, "Apply these changes and reload the server? [y/N] ") ||
		!strings.Contains(shown, "+    # aopwizard example.test replaced: ssl_verify_client optional_no_ca;") ||
		!strings.Contains(shown, "applied nginx soft phase to the existing site") {
		t.Fatalf("answered yes twice: exit %d\nterminal:\n%s\nstderr:\n%s", code, shown, errs)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
