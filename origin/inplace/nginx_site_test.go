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

const shopHost = "a.example.test"

// nginxShop writes a realistic nginx site: static files under a root, an
// index, a custom 404 page, an internal location, a proxy_pass to a Go
// backend, a location redirect, a server-level rewrite, IPv4 and IPv6
// listeners, and the certificate lines in an included snippet.
func nginxShop(t *testing.T, lab *pkitest.Lab, port int, upstream string) (dir, conf string, addrs []string) {
	dir = servertest.Dir(t)
	listen := fmt.Sprintf("    listen 127.0.0.1:%d ssl;\n", port)
	addrs = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	if loopback6() {
		listen += fmt.Sprintf("    listen [::1]:%d ssl; # IPv6\n", port)
		addrs = append(addrs, fmt.Sprintf("[::1]:%d", port))
	}
	writeFiles(t, dir, map[string]string{
		"nginx.conf": `worker_processes 1;
pid ` + dir + `/nginx.pid;
error_log ` + dir + `/error.log info;
events { worker_connections 64; }

http {
	client_body_temp_path ` + dir + `/t-body;
	proxy_temp_path ` + dir + `/t-proxy;
	fastcgi_temp_path ` + dir + `/t-fcgi;
	uwsgi_temp_path ` + dir + `/t-uwsgi;
	scgi_temp_path ` + dir + `/t-scgi;
	types { text/html html; text/css css; text/plain txt; }
	default_type application/octet-stream;
	ssl_protocols TLSv1.2 TLSv1.3;
	access_log ` + dir + `/access.log;
	include ` + dir + `/sites-enabled/*;
}
`,
		"snippets/tls.conf":      "ssl_certificate " + lab.Path(pkitest.ServerCert) + ";\nssl_certificate_key " + lab.Path(pkitest.ServerKey) + ";\n",
		"www/index.html":         "<h1>shop</h1>\n",
		"www/style.css":          "h1 { color: red }\n",
		"www/404.html":           "<p>custom not found</p>\n",
		"www/private/secret.txt": "internal only\n",
		"www/page.BAK":           "backup, internal only\n",
		"sites-available/shop": `# The shop: the operator's own site.
server {
` + listen + `    server_name ` + shopHost + `;
    include ` + dir + `/snippets/tls.conf;

    root ` + dir + `/www;
    index index.html;
    error_page 404 /404.html;
    rewrite ^/old/(.*)$ /new/$1 permanent;

    location / {
        try_files $uri $uri/ =404;
    }
    location /private/ {
        internal;
    }
    location ~* \.(bak|old)$ {
        internal;
    }
    location /api/ {
        proxy_pass http://` + upstream + `;
        proxy_set_header Host $host;
    }
    location = /go {
        return 302 /index.html;
    }
}
`,
	})
	enable(t, dir, "shop")
	return dir, filepath.Join(dir, "nginx.conf"), addrs
}

// TestNginxExistingSite applies both phases to a real nginx site in
// place and checks that the site keeps answering exactly as before: in
// the soft phase for every client (no, right, wrong-CA and expired
// certificate), in the enforce phase for the right certificate; rollback
// restores the files byte for byte and the answers.
func TestNginxExistingSite(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	lab := pkitest.New(t)
	port := servertest.FreePort(t)
	dir, conf, addrs := nginxShop(t, lab, port, backend(t))
	run := servertest.Start(t, render.Nginx, conf)
	ctx := context.Background()

	clients := map[string]*pki.Pair{"none": nil, "right": lab.ClientA, "wrong-ca": lab.ClientB, "expired": lab.ClientAExpired}
	before, err := record(client(lab, shopHost, nil), addrs, shopHost)
	if err != nil {
		t.Fatal(err)
	}
	// The recording must exercise what it claims to.
	for k, want := range map[string]int{"GET /missing.html": 404, "GET /private/secret.txt": 404, "GET /page.BAK": 404, "GET /go": 302, "GET /old/page": 301, "POST /api/items": 200} {
		if got := before[addrs[0]+" "+k]; got.Status != want {
			t.Fatalf("baseline %s = %s, want %d", k, got, want)
		}
	}
	if !strings.Contains(before[addrs[0]+" GET /missing.html"].Body, "custom not found") || !strings.Contains(before[addrs[0]+" POST /api/items"].Backend, "body=name=widget&qty=2") {
		t.Fatalf("baseline misses the custom 404 or the proxied body: %v", before)
	}
	orig := snapshot(t, filepath.Join(dir, "sites-available/shop"), conf)

	evidence := filepath.Join(dir, "aop.log")
	in := inplace.Input{ID: "example.test", Phase: render.Soft, Mode: render.Zone, CAFile: lab.Path(pkitest.CAAFile), AccessLog: evidence}
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: "example.test",
		Targets: []apply.Target{{Addr: addrs[0], SNI: shopHost, CAs: [][]byte{lab.CAA.Cert.RawSubject}, Phase: render.Soft}}}

	soft := planFor(t, run.Driver, in)
	if len(soft.Edits) != 2 {
		t.Fatalf("soft plan edits %d files, want the site and the main config: %+v", len(soft.Edits), soft.Edits)
	}
	if _, err := apply.Apply(ctx, o, changes(soft)); err != nil {
		t.Fatalf("apply soft: %v\n%s", err, run.ErrorTail())
	}
	if fi, err := os.Lstat(filepath.Join(dir, "sites-enabled/shop")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("sites-enabled/shop is no longer a symlink: %v", err)
	}
	for name, cert := range clients {
		expectSame(t, lab, addrs, cert, before, "soft phase, "+name+" certificate, same answers as before")
	}
	// nginx logs after answering: poll.
	servertest.Eventually(t, "the evidence log shows every verification result", func() error {
		log, _ := os.ReadFile(evidence)
		for _, want := range []string{`verify="NONE"`, `verify="SUCCESS"`, `verify="FAILED:unable to verify the first certificate"`, `verify="FAILED:certificate has expired"`} {
			if !strings.Contains(string(log), want) {
				return fmt.Errorf("evidence log lacks %s:\n%s", want, log)
			}
		}
		return nil
	})
	expectEvidence(t, evidence, shopHost, "unable to verify the first certificate", "certificate has expired")
	servertest.Eventually(t, "the site's own access log still gets the requests", func() error {
		main, _ := os.ReadFile(filepath.Join(dir, "access.log"))
		if n := strings.Count(string(main), "\"POST /api/items"); n < 1+2*len(clients) {
			return fmt.Errorf("%d POST lines in the site's own log, want the baseline's and every soft-phase client's", n)
		}
		return nil
	})

	in.Phase = render.Enforce
	o.Targets[0].Phase = render.Enforce
	enforce := planFor(t, run.Driver, in)
	if _, err := apply.Apply(ctx, o, changes(enforce)); err != nil {
		t.Fatalf("apply enforce: %v\n%s", err, run.ErrorTail())
	}
	expectSame(t, lab, addrs, lab.ClientA, before, "enforce phase, right certificate, same answers")
	// nginx refuses with HTTP 400 after the handshake.
	for _, name := range []string{"none", "wrong-ca", "expired"} {
		expectRefused(t, lab, addrs, clients[name], "enforce, "+name+" certificate refused", func(a answer, err error) bool { return err == nil && a.Status == 400 })
	}
	rollbackAll(t, o, 2, orig)
	for name, cert := range clients {
		expectSame(t, lab, addrs, cert, before, "after rollback, "+name+" certificate, same answers as before")
	}
}

// TestNginxExistingSitesHostnameMode: two operator sites, each trusting
// its own CA; in the enforce phase each accepts only its own CA's
// certificate and a request without SNI is refused with 421.
func TestNginxExistingSitesHostnameMode(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	port := servertest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	const hostB = "b.example.test"
	site := func(name string) string {
		return fmt.Sprintf("server {\n    listen %s ssl;\n    server_name %s;\n    include %s/snippets/tls.conf;\n    location / { return 200 \"%s\\n\"; }\n}\n", addr, name, dir, name)
	}
	writeFiles(t, dir, map[string]string{
		"nginx.conf": "worker_processes 1;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents { worker_connections 64; }\n" +
			"http {\n    access_log off;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    include " + dir + "/sites-enabled/*;\n}\n",
		"snippets/tls.conf": "ssl_certificate " + lab.Path(pkitest.ServerCert) + ";\nssl_certificate_key " + lab.Path(pkitest.ServerKey) + ";\n",
		"sites-available/a": site(shopHost),
		"sites-available/b": site(hostB),
	})
	enable(t, dir, "a")
	enable(t, dir, "b")
	run := servertest.Start(t, render.Nginx, filepath.Join(dir, "nginx.conf"))
	in := inplace.Input{ID: "example.test", Phase: render.Enforce, Mode: render.Hostname, AccessLog: filepath.Join(dir, "aop.log"),
		HostCAFiles: map[string]string{shopHost: lab.Path(pkitest.CAAFile), hostB: lab.Path(pkitest.CABFile)}}
	p, _, err := inplace.PlanFor(context.Background(), server.NewExecRunner(nil), run.Driver, []string{shopHost, hostB}, in)
	if err != nil {
		t.Fatal(err)
	}
	o := apply.Options{Driver: run.Driver, Runner: server.NewExecRunner(nil), CheckpointDir: filepath.Join(dir, "checkpoints"), ID: in.ID,
		Targets: []apply.Target{{Addr: addr, SNI: hostB, CAs: [][]byte{lab.CAB.Cert.RawSubject}, Phase: render.Enforce}}}
	if _, err := apply.Apply(context.Background(), o, changes(p)); err != nil {
		t.Fatalf("apply: %v\n%s", err, run.ErrorTail())
	}
	for _, c := range []struct {
		sni, host string
		cert      *pki.Pair
		status    int
	}{
		{shopHost, shopHost, lab.ClientA, 200}, {shopHost, shopHost, lab.ClientB, 400},
		{hostB, hostB, lab.ClientB, 200}, {hostB, hostB, lab.ClientA, 400},
		{"", shopHost, lab.ClientA, 421},
	} {
		servertest.Eventually(t, fmt.Sprintf("SNI %q Host %s", c.sni, c.host), func() error {
			a, err := ask(client(lab, c.sni, c.cert), addr, c.host, siteRequests[0])
			if err != nil || a.Status != c.status {
				return fmt.Errorf("got %v %v, want %d", a, err, c.status)
			}
			return nil
		})
	}
}
