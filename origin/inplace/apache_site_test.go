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
	"github.com/aopwizard/aopwizard/origin/sites"
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
	if err := os.MkdirAll(filepath.Join(dir, "sites-enabled"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sites-available/shop.conf"), filepath.Join(dir, "sites-enabled/shop.conf")); err != nil {
		t.Fatal(err)
	}
	return dir, filepath.Join(dir, "apache2.conf"), addrs
}

func planApache(t *testing.T, d *server.Driver, in inplace.Input) *inplace.Plan {
	t.Helper()
	cfg, err := sites.LoadApache(context.Background(), server.NewExecRunner(nil), d)
	if err != nil {
		t.Fatal(err)
	}
	hosts := cfg.Config().Lookup([]string{shopHost})
	if !hosts[0].OK() || len(hosts[0].Blocks) != 1 {
		t.Fatalf("discovery: %+v", hosts[0])
	}
	in.Blocks = hosts[0].Blocks
	p, err := inplace.PlanApache(cfg, in)
	if err != nil {
		t.Fatal(err)
	}
	return p
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
	origSite, _ := os.ReadFile(site)

	evidence := filepath.Join(dir, "aop.log")
	in := inplace.Input{ID: "example.test", Phase: render.Soft, Mode: render.Zone, CAFile: lab.Path(pkitest.CAAFile), AccessLog: evidence}
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: "example.test",
		Targets: []apply.Target{{Addr: addrs[0], SNI: shopHost, CAs: [][]byte{lab.CAA.Cert.RawSubject}, Phase: render.Soft}}}
	soft := planApache(t, run.Driver, in)
	if len(soft.Edits) != 1 || soft.Edits[0].Path != site {
		t.Fatalf("soft plan: want one edit of %s, got %+v", site, soft.Edits)
	}
	if _, err := apply.Apply(ctx, o, changes(soft)); err != nil {
		t.Fatalf("apply soft: %v\n%s", err, run.ErrorTail())
	}
	for _, name := range []string{"none", "right", "wrong-ca"} {
		cert := map[string]*pkiPair{"none": nil, "right": lab.ClientA, "wrong-ca": lab.ClientB}[name]
		servertest.Eventually(t, "apache soft phase, "+name+" certificate, same answers", func() error {
			got, err := record(client(lab, shopHost, cert), addrs, shopHost)
			if err != nil {
				return err
			}
			return same(before, got)
		})
	}
	if _, err := ask(client(lab, shopHost, lab.ClientAExpired), addrs[0], shopHost, siteRequests[0]); err == nil {
		t.Errorf("apache soft phase served an expired certificate: docs/origin-servers.md says it refuses it; update the docs")
	}
	servertest.Eventually(t, "the evidence log shows the results", func() error {
		log, _ := os.ReadFile(evidence)
		for _, want := range []string{`verify="NONE"`, `verify="SUCCESS"`, `verify="FAILED:unable to verify the first certificate"`} {
			if !strings.Contains(string(log), want) {
				return fmt.Errorf("evidence log lacks %s:\n%s", want, log)
			}
		}
		return nil
	})

	in.Phase, o.Targets[0].Phase = render.Enforce, render.Enforce
	if _, err := apply.Apply(ctx, o, changes(planApache(t, run.Driver, in))); err != nil {
		t.Fatalf("apply enforce: %v\n%s", err, run.ErrorTail())
	}
	servertest.Eventually(t, "apache enforce, right certificate, same answers", func() error {
		got, err := record(client(lab, shopHost, lab.ClientA), addrs, shopHost)
		if err != nil {
			return err
		}
		return same(before, got)
	})
	for name, cert := range map[string]*pkiPair{"none": nil, "wrong-ca": lab.ClientB, "expired": lab.ClientAExpired} {
		for _, a := range addrs {
			servertest.Eventually(t, "apache enforce refuses "+name+" on "+a, func() error {
				if got, err := ask(client(lab, shopHost, cert), a, shopHost, siteRequests[0]); err == nil {
					return fmt.Errorf("served: %s", got)
				}
				return nil
			})
		}
	}

	o.Targets = nil
	for range 2 {
		if _, err := apply.Rollback(ctx, o); err != nil {
			t.Fatalf("rollback: %v", err)
		}
	}
	if got, _ := os.ReadFile(site); string(got) != string(origSite) {
		t.Errorf("rollback left the site changed:\n%s", apply.UnifiedDiff("before", "after", origSite, got))
	}
	if fi, err := os.Lstat(filepath.Join(dir, "sites-enabled/shop.conf")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("sites-enabled/shop.conf is no longer a symlink")
	}
	servertest.Eventually(t, "after rollback, same answers", func() error {
		got, err := record(client(lab, shopHost, nil), addrs, shopHost)
		if err != nil {
			return err
		}
		return same(before, got)
	})
}
