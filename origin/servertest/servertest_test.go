package servertest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// minimal configs after docs/origin-servers.md, "Standalone configs", with
// one marker word in the
// response so a reload can be observed.
func writeConfig(t *testing.T, kind render.Server, lab *pkitest.Lab, dir string, port int, word string) string {
	t.Helper()
	var name, text string
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	switch kind {
	case render.Nginx:
		name = "nginx.conf"
		text = fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    access_log off;
    server {
        listen %[2]s ssl;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        location / { return 200 "%[5]s\n"; }
    }
}
`, dir, listen, lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey), word)
	case render.Apache:
		name = "apache2.conf"
		htdocs := filepath.Join(dir, "htdocs")
		if err := os.MkdirAll(htdocs, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(htdocs, "index.html"), []byte(word+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		text = fmt.Sprintf(`ServerRoot /etc/apache2
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
User www-data
Group www-data
ServerName origin.example.test
PidFile %[1]s/httpd.pid
DefaultRuntimeDir %[1]s
Mutex file:%[1]s default
ErrorLog %[1]s/error.log
Listen %[2]s
DocumentRoot %[5]s
<Directory %[5]s>
    Require all granted
</Directory>
<VirtualHost %[2]s>
    SSLEngine on
    SSLCertificateFile %[3]s
    SSLCertificateKeyFile %[4]s
</VirtualHost>
`, dir, listen, lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey), htdocs)
	case render.HAProxy:
		name = "haproxy.cfg"
		text = fmt.Sprintf(`global
    log stdout format raw local0 info
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend fe
    bind %s ssl crt %s
    http-request return status 200 content-type text/plain string "%s"
`, listen, lab.Path(pkitest.ServerBundle), word)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(lab *pkitest.Lab, addr string) (string, error) {
	pool := x509.NewCertPool()
	pool.AddCert(lab.ServerCA.Cert)
	c := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: "origin.example.test"},
		DisableKeepAlives: true,
	}}
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

func TestStartReloadStop(t *testing.T) {
	t.Parallel()
	lab := pkitest.New(t)
	for _, kind := range server.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			dir := servertest.Dir(t)
			port := servertest.FreePort(t)
			conf := writeConfig(t, kind, lab, dir, port, "first")
			r := servertest.Start(t, kind, conf)
			if want := fmt.Sprintf("127.0.0.1:%d", port); r.Addr != want {
				t.Fatalf("Addr %q, want %q", r.Addr, want)
			}
			if body, err := get(lab, r.Addr); err != nil || body != "first" {
				t.Fatalf("GET before reload: %q, %v", body, err)
			}
			writeConfig(t, kind, lab, dir, port, "second")
			ctx := context.Background()
			if err := r.Test(ctx); err != nil {
				t.Fatal(err)
			}
			if err := r.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			servertest.Eventually(t, "new config served", func() error {
				body, err := get(lab, r.Addr)
				if err == nil && body != "second" {
					err = fmt.Errorf("body %q", body)
				}
				return err
			})
			r.Stop()
			if _, err := get(lab, r.Addr); err == nil {
				t.Fatal("server still answers after Stop")
			}
		})
	}
}

// HAProxy 2.6 loses a USR2 that arrives while its master is busy, so
// reloads in quick succession each used to risk a lost one and a test
// polling the old config until its deadline. Reload now returns once the
// new generation loaded; every one of these must serve its own config.
func TestReloadsInQuickSuccession(t *testing.T) {
	t.Parallel()
	servertest.RequireServer(t, render.HAProxy)
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	port := servertest.FreePort(t)
	r := servertest.Start(t, render.HAProxy, writeConfig(t, render.HAProxy, lab, dir, port, "gen0"))
	for i := 1; i <= 8; i++ {
		word := fmt.Sprintf("gen%d", i)
		writeConfig(t, render.HAProxy, lab, dir, port, word)
		if err := r.Reload(context.Background()); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		servertest.Eventually(t, word+" served", func() error {
			body, err := get(lab, r.Addr)
			if err == nil && body != word {
				err = fmt.Errorf("body %q", body)
			}
			return err
		})
	}
}

func TestInspectFollowsIncludes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "nginx.conf")
	os.WriteFile(main, []byte("pid /x/nginx.pid;\n# listen 1.2.3.4:1;\nhttp { include conf.d/*.conf; }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("server { listen 127.0.0.1:9443 ssl; listen [::]:9443 ssl; }\nserver {\n listen 8443;\n}\n"), 0o644)
	info, err := servertest.Inspect(render.Nginx, main)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:9443", "[::1]:9443", "127.0.0.1:8443"}
	if fmt.Sprint(info.Addrs) != fmt.Sprint(want) || info.PIDFile != "/x/nginx.pid" {
		t.Fatalf("Inspect = %+v, want addrs %v and pid /x/nginx.pid", info, want)
	}
}
