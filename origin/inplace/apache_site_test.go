package inplace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// apacheShop writes a realistic Apache site: static files, a custom 404,
// a denied location, ProxyPass to a Go backend, a Redirect, a server-level
// RewriteRule, IPv4 and IPv6 addresses, the TLS lines in an Include, and
// the site enabled through a sites-enabled symlink.
func apacheShop(t *testing.T, lab *pkitest.Lab, port int, upstream string) (dir, conf string, addrs []string) {
	dir = servertest.Dir(t)
	addrs = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	listen := "Listen " + addrs[0] + "\n"
	vhost := addrs[0]
	if loopback6() {
		a6 := fmt.Sprintf("[::1]:%d", port)
		addrs = append(addrs, a6)
		listen += "Listen " + a6 + "\n"
		vhost += " " + a6
	}
	var mods strings.Builder
	for _, m := range []string{"mpm_event", "authz_core", "ssl", "dir", "mime", "alias", "rewrite", "proxy", "proxy_http"} {
		fmt.Fprintf(&mods, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	writeFiles(t, dir, map[string]string{
		"apache2.conf": "ServerRoot /etc/apache2\n" + mods.String() +
			"User www-data\nGroup www-data\nServerName localhost\n" +
			"PidFile " + dir + "/apache2.pid\nDefaultRuntimeDir " + dir + "\nMutex file:" + dir + " default\n" +
			"ErrorLog " + dir + "/error.log\nLogLevel warn ssl:info\nTypesConfig /etc/mime.types\n" +
			"SSLProtocol -all +TLSv1.2 +TLSv1.3\n" + listen +
			"LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common\n" +
			"IncludeOptional " + dir + "/sites-enabled/*.conf\n",
		"snippets/tls.conf":      "SSLEngine on\nSSLCertificateFile " + lab.Path(pkitest.ServerCert) + "\nSSLCertificateKeyFile " + lab.Path(pkitest.ServerKey) + "\n",
		"www/index.html":         "<h1>shop</h1>\n",
		"www/style.css":          "h1 { color: red }\n",
		"www/404.html":           "<p>custom not found</p>\n",
		"www/private/secret.txt": "denied\n",
		"www/page.BAK":           "backup\n",
		"sites-available/shop.conf": `# The shop: the operator's own site.
<VirtualHost ` + vhost + `>
	ServerName ` + shopHost + `
	Include ` + dir + `/snippets/tls.conf
	DocumentRoot ` + dir + `/www
	<Directory ` + dir + `/www>
		Require all granted
	</Directory>
	<Location /private/>
		Require all denied
	</Location>
	<FilesMatch "\.(?i:bak)$">
		Require all denied
	</FilesMatch>
	ErrorDocument 404 /404.html
	Redirect 302 /go /index.html
	RewriteEngine on
	RewriteRule ^/old/(.*)$ /new/$1 [R=301,L]
	ProxyPass /api/ http://` + upstream + `/api/
	ProxyPreserveHost On
	CustomLog ` + dir + `/access.log "%m %U %>s"
</VirtualHost>
`,
	})
	enable(t, dir, "shop.conf")
	return dir, filepath.Join(dir, "apache2.conf"), addrs
}

// TestApacheExistingSite: Apache's soft phase keeps the site's answers for
// no, right and wrong-CA certificates (an expired one is refused with a
// TLS alert: docs/origin-servers.md, "Soft phase on Apache"); enforce keeps
// them for the right certificate and refuses the rest; rollback restores
// the bytes and the answers.
func TestApacheExistingSite(t *testing.T) {
	servertest.RequireServer(t, render.Apache)
	lab := pkitest.New(t)
	dir, conf, addrs := apacheShop(t, lab, servertest.FreePort(t), backend(t))
	run := servertest.Start(t, render.Apache, conf)
	ctx := context.Background()

	before, err := record(client(lab, shopHost, nil), addrs, shopHost)
	if err != nil {
		t.Fatalf("%v\n%s", err, run.ErrorTail())
	}
	for k, want := range map[string]int{"GET /missing.html": 404, "GET /private/secret.txt": 403, "GET /page.BAK": 403, "GET /go": 302, "GET /old/page": 301, "POST /api/items": 200} {
		if got := before[addrs[0]+" "+k]; got.Status != want {
			t.Fatalf("baseline %s = %s, want %d", k, got, want)
		}
	}
	if !strings.Contains(before[addrs[0]+" GET /missing.html"].Body, "custom not found") || !strings.Contains(before[addrs[0]+" POST /api/items"].Backend, "body=name=widget&qty=2") {
		t.Fatalf("baseline misses the custom 404 or the proxied body: %v", before)
	}
	site := filepath.Join(dir, "sites-available/shop.conf")
	orig := snapshot(t, site)

	evidence := filepath.Join(dir, "aop.log")
	in := inplace.Input{ID: "example.test", Phase: render.Soft, Mode: render.Zone, CAFile: lab.Path(pkitest.CAAFile), AccessLog: evidence}
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: "example.test",
		Targets: []apply.Target{{Addr: addrs[0], SNI: shopHost, CAs: [][]byte{lab.CAA.Cert.RawSubject}, Phase: render.Soft}}}
	soft := planFor(t, run.Driver, in)
	if len(soft.Edits) != 1 || soft.Edits[0].Path != site {
		t.Fatalf("soft plan: want one edit of %s, got %+v", site, soft.Edits)
	}
	if _, err := apply.Apply(ctx, o, changes(soft)); err != nil {
		t.Fatalf("apply soft: %v\n%s", err, run.ErrorTail())
	}
	for name, cert := range map[string]*pki.Pair{"none": nil, "right": lab.ClientA, "wrong-ca": lab.ClientB} {
		expectSame(t, lab, addrs, cert, before, "apache soft phase, "+name+" certificate, same answers")
	}
	// docs/origin-servers.md, "Soft phase on Apache": an expired
	// certificate is refused even by optional_no_ca.
	expectRefused(t, lab, addrs, lab.ClientAExpired, "apache soft phase refuses an expired certificate", tlsRefused)
	servertest.Eventually(t, "the evidence log shows the results", func() error {
		log, _ := os.ReadFile(evidence)
		for _, want := range []string{`verify="NONE"`, `verify="SUCCESS"`, `verify="FAILED:unable to verify the first certificate"`} {
			if !strings.Contains(string(log), want) {
				return fmt.Errorf("evidence log lacks %s:\n%s", want, log)
			}
		}
		return nil
	})

	expectEvidence(t, evidence, shopHost, "unable to verify the first certificate")
	in.Phase, o.Targets[0].Phase = render.Enforce, render.Enforce
	if _, err := apply.Apply(ctx, o, changes(planFor(t, run.Driver, in))); err != nil {
		t.Fatalf("apply enforce: %v\n%s", err, run.ErrorTail())
	}
	expectSame(t, lab, addrs, lab.ClientA, before, "apache enforce, right certificate, same answers")
	for name, cert := range map[string]*pki.Pair{"none": nil, "wrong-ca": lab.ClientB, "expired": lab.ClientAExpired} {
		expectRefused(t, lab, addrs, cert, "apache enforce refuses "+name, tlsRefused)
	}
	rollbackAll(t, o, 2, orig)
	if fi, err := os.Lstat(filepath.Join(dir, "sites-enabled/shop.conf")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("sites-enabled/shop.conf is no longer a symlink")
	}
	expectSame(t, lab, addrs, nil, before, "after rollback, same answers")
}

// TestApacheDebianDefaultSSL edits Debian's own default-ssl.conf (copied,
// with its port moved to a free one): a vhost without ServerName, found
// through the main server's name that DUMP_VHOSTS prints for it.
func TestApacheDebianDefaultSSL(t *testing.T) {
	servertest.RequireServer(t, render.Apache)
	src, err := os.ReadFile("/etc/apache2/sites-available/default-ssl.conf")
	if err != nil {
		t.Skipf("Debian's default-ssl.conf is not installed: %v", err)
	}
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	port := servertest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	site := strings.ReplaceAll(string(src), "<VirtualHost *:443>", fmt.Sprintf("<VirtualHost *:%d>", port))
	site = strings.ReplaceAll(site, "/etc/ssl/certs/ssl-cert-snakeoil.pem", lab.Path(pkitest.ServerCert))
	site = strings.ReplaceAll(site, "/etc/ssl/private/ssl-cert-snakeoil.key", lab.Path(pkitest.ServerKey))
	site = strings.ReplaceAll(site, "/var/www/html", dir+"/www")
	var mods strings.Builder
	for _, m := range []string{"mpm_event", "authz_core", "ssl", "dir", "mime"} {
		fmt.Fprintf(&mods, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	writeFiles(t, dir, map[string]string{
		"apache2.conf": "ServerRoot /etc/apache2\nDefine APACHE_LOG_DIR " + dir + "\n" + mods.String() +
			"User www-data\nGroup www-data\nServerName " + shopHost + "\n" +
			"PidFile " + dir + "/apache2.pid\nDefaultRuntimeDir " + dir + "\nMutex file:" + dir + " default\n" +
			"ErrorLog " + dir + "/error.log\nTypesConfig /etc/mime.types\nLogFormat \"%h %r %>s\" combined\n" +
			"Listen " + addr + "\nIncludeOptional " + dir + "/sites-enabled/*.conf\n",
		"sites-available/default-ssl.conf": site,
		"www/index.html":                   "debian default\n",
	})
	enable(t, dir, "default-ssl.conf")
	run := servertest.Start(t, render.Apache, filepath.Join(dir, "apache2.conf"))
	before, err := record(client(lab, shopHost, nil), []string{addr}, shopHost)
	if err != nil {
		t.Fatal(err)
	}
	orig := snapshot(t, filepath.Join(dir, "sites-available/default-ssl.conf"))
	in := inplace.Input{ID: "example.test", Phase: render.Soft, CAFile: lab.Path(pkitest.CAAFile), AccessLog: filepath.Join(dir, "aop.log")}
	p := planFor(t, run.Driver, in)
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: in.ID,
		Targets: []apply.Target{{Addr: addr, SNI: shopHost, CAs: [][]byte{lab.CAA.Cert.RawSubject}, Phase: render.Soft}}}
	if _, err := apply.Apply(context.Background(), o, changes(p)); err != nil {
		t.Fatalf("apply: %v\n%s", err, run.ErrorTail())
	}
	for _, cert := range []*pki.Pair{nil, lab.ClientA, lab.ClientB} {
		expectSame(t, lab, []string{addr}, cert, before, "Debian default-ssl, soft phase, same answers")
	}
	rollbackAll(t, o, 1, orig)
}
