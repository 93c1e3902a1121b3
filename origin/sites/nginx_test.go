package sites

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// debianLayout writes an nginx config shaped like Debian's: nginx.conf
// including conf.d/*.conf and sites-enabled/* (symlinks into
// sites-available), a snippet with the certificate lines, a default
// server, wildcard and regex names, IPv4 and IPv6 listeners, a plain-HTTP
// redirect and a panel-style file with many vhosts.
func debianLayout(t *testing.T, lab *pkitest.Lab) string {
	t.Helper()
	dir := servertest.Dir(t)
	cert, key := lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey)
	files := map[string]string{
		"nginx.conf": `worker_processes 1;
pid ` + dir + `/nginx.pid;
events { worker_connections 64; }
http {
    access_log ` + dir + `/access.log;
    include conf.d/*.conf;
    include ` + dir + `/sites-enabled/*;
}
`,
		"snippets/tls.conf": "ssl_certificate " + cert + ";\nssl_certificate_key " + key + ";\n",
		"conf.d/panel.conf": `# control-panel style: many vhosts in one file
server { listen 127.0.0.1:18081 ssl; server_name p1.example.test; include snippets/tls.conf; }
server { listen 127.0.0.1:18081 ssl; server_name p2.example.test www.p2.example.test; include snippets/tls.conf; ssl_verify_client optional; ssl_client_certificate ` + lab.Path(pkitest.CAAFile) + `; }
server { listen 127.0.0.1:18081 ssl; server_name *.wild.example.test; include snippets/tls.conf; }
server { listen 127.0.0.1:18081 ssl; server_name ~^api[0-9]+\.example\.test$; include snippets/tls.conf; }
server {
	listen 127.0.0.1:18080;
	server_name plain.example.test shop.example.test;
	return 301 https://$host$request_uri;
}
`,
		"sites-available/shop": `server {
    listen 127.0.0.1:18082 ssl default_server;
    listen [::1]:18082 ssl;
    server_name shop.example.test;
    include snippets/tls.conf;
    root /var/www/shop;
}

server {
    listen 127.0.0.1:18083 ssl;
    server_name shop.example.test;
    include snippets/tls.conf;
}
`,
	}
	servertest.WriteFiles(t, dir, files)
	if err := os.MkdirAll(filepath.Join(dir, "sites-enabled"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sites-available/shop"), filepath.Join(dir, "sites-enabled/shop")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func nginxDriver(t *testing.T, conf string) *server.Driver {
	t.Helper()
	servertest.RequireServer(t, render.Nginx)
	d, err := server.Standalone(render.Nginx, conf)
	if err != nil {
		t.Fatal(err)
	}
	d.ErrorLog = filepath.Join(filepath.Dir(conf), "error.log")
	return d
}

func TestNginxDiscoveryDebianLayout(t *testing.T) {
	lab := pkitest.New(t)
	dir := debianLayout(t, lab)
	d := nginxDriver(t, filepath.Join(dir, "nginx.conf"))
	cfg, err := Discover(context.Background(), server.NewExecRunner(nil), d)
	if err != nil {
		t.Fatal(err)
	}
	hosts := cfg.Lookup([]string{"shop.example.test", "www.p2.example.test", "x.wild.example.test", "api7.example.test", "plain.example.test", "nowhere.example.test", "p1.example.test"})
	byName := map[string]Host{}
	for _, h := range hosts {
		byName[h.Hostname] = h
	}

	shop := byName["shop.example.test"]
	if !shop.OK() || len(shop.Blocks) != 2 {
		t.Fatalf("shop: want two exact blocks (both listeners), got %+v", shop)
	}
	b := shop.Blocks[0]
	if b.File != filepath.Join(dir, "sites-enabled/shop") || b.RealFile != filepath.Join(dir, "sites-available/shop") || b.Line != 1 || b.EndLine != 7 {
		t.Errorf("shop block 1 at %s (real %s) lines %d-%d, want sites-enabled/shop:1-7 resolved to sites-available", b.File, b.RealFile, b.Line, b.EndLine)
	}
	if !b.DefaultServer || strings.Join(b.Listen, "|") != "127.0.0.1:18082 ssl default_server|[::1]:18082 ssl" {
		t.Errorf("shop listeners %q default=%v", b.Listen, b.DefaultServer)
	}
	if b.Certificate != lab.Path(pkitest.ServerCert) || b.Key != lab.Path(pkitest.ServerKey) {
		t.Errorf("certificate and key from the included snippet: got %q and %q", b.Certificate, b.Key)
	}
	if shop.Blocks[1].Line != 9 || shop.Blocks[1].EndLine != 13 {
		t.Errorf("shop block 2 lines %d-%d, want 9-13", shop.Blocks[1].Line, shop.Blocks[1].EndLine)
	}

	p2 := byName["www.p2.example.test"]
	if !p2.OK() || p2.Blocks[0].Line != 3 || len(p2.Blocks[0].ClientAuth) != 2 || p2.Blocks[0].ClientAuth[0].Text != "ssl_verify_client optional;" {
		t.Errorf("p2: want conf.d/panel.conf:3 with its existing client verification, got %+v", p2)
	}
	if got := strings.Join(p2.Blocks[0].Others, ","); got != "p2.example.test" {
		t.Errorf("p2 others: %q", got)
	}
	if w := byName["x.wild.example.test"]; !w.Flagged || w.Blocks[0].Match != Wildcard || w.Blocks[0].Line != 4 {
		t.Errorf("wildcard: %+v", w)
	}
	if r := byName["api7.example.test"]; !r.Flagged || r.Blocks[0].Match != Regex || r.Blocks[0].Line != 5 {
		t.Errorf("regex: %+v", r)
	}
	if p := byName["plain.example.test"]; p.Reason != PlainOnly || len(p.Blocks) != 0 {
		t.Errorf("plain: %+v", p)
	}
	if n := byName["nowhere.example.test"]; n.Reason != DefaultOnly || !strings.Contains(n.Detail, "sites-enabled/shop:1") {
		t.Errorf("nowhere: %+v", n)
	}
	if p1 := byName["p1.example.test"]; !p1.OK() || len(p1.Blocks[0].ClientAuth) != 0 {
		t.Errorf("p1: %+v", p1)
	}
}

func TestParseNginxDumpKeepsBytes(t *testing.T) {
	dump := "nginx: the configuration file /x/nginx.conf syntax is ok\n" +
		"# configuration file /x/nginx.conf:\nhttp {\n    include /x/a.conf;\n}\n\n" +
		"# configuration file /x/a.conf:\nserver { listen 443 ssl; server_name a; } # no final newline\n"
	d, err := ParseNginxDump([]byte(dump))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 2 || string(d.Files[0].Content) != "http {\n    include /x/a.conf;\n}\n" || string(d.Files[1].Content) != "server { listen 443 ssl; server_name a; } # no final newline" {
		t.Fatalf("files: %q", d.Files)
	}
	c, err := ParseNginxConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 1 || !c.Servers[0].TLS || c.Servers[0].File.Path != "/x/a.conf" {
		t.Fatalf("servers: %+v", c.Servers)
	}
}

func TestNginxStreamServersAreNotSites(t *testing.T) {
	d := &NginxDump{Files: []DumpFile{{Path: "/x/nginx.conf", Content: []byte("stream { server { listen 443 ssl; } }\nhttp { server { listen 443 ssl; server_name a; } }\n")}}}
	c, err := ParseNginxConfig(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Servers) != 1 || c.Servers[0].Line != 2 {
		t.Fatalf("want only the http server, got %d", len(c.Servers))
	}
}
