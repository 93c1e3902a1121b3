package inplace_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// TestNginxSoftFacts measures, on the installed nginx, the three facts
// the in-place soft block is built on (docs/origin-servers.md, "Soft phase
// on an existing nginx site"):
//
//   - optional_no_ca serves a wrong-CA certificate normally and logs
//     FAILED, but still answers 400 (495) to an expired one;
//   - after error_page 495 hands a request back to the site, nginx applies
//     none of the site's own error pages unless recursive_error_pages is on;
//   - the hand-back is an internal redirect, so without a guard an
//     internal location becomes reachable, and a proxy_pass without a URI
//     part sends the backend the normalised URI (%7E and %2F decoded), not
//     the client's bytes.
func TestNginxSoftFacts(t *testing.T) {
	servertest.RequireServer(t, render.Nginx)
	lab := pkitest.New(t)
	dir := servertest.Dir(t)
	ports := []int{servertest.FreePort(t), servertest.FreePort(t)}
	upstream := backend(t)
	site := func(port int, extra string) string {
		return fmt.Sprintf(`server {
    listen 127.0.0.1:%d ssl;
    server_name %s;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_client_certificate %s;
    ssl_verify_client optional_no_ca;
    access_log %s/verify.log verify;
    root %s/www;
    proxy_temp_path %s/t-proxy;
    error_page 404 /404.html;
    location /private/ { internal; }
    location /api/ { proxy_pass http://%s; }
%s}
`, port, shopHost, lab.Path(pkitest.ServerCert), lab.Path(pkitest.ServerKey), lab.Path(pkitest.CAAFile), dir, dir, dir, upstream, extra)
	}
	writeFiles(t, dir, map[string]string{
		"www/index.html":         "index\n",
		"www/404.html":           "custom not found\n",
		"www/private/secret.txt": "internal only\n",
		"nginx.conf": "worker_processes 1;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents { worker_connections 64; }\nhttp {\n" +
			"    access_log off;\n    ssl_protocols TLSv1.2 TLSv1.3;\n" +
			"    log_format verify '$ssl_client_verify';\n" +
			site(ports[0], "") +
			site(ports[1], "    error_page 495 = @soft;\n    location @soft { try_files /.none $uri$is_args$args; }\n") +
			"}\n",
	})
	servertest.Start(t, render.Nginx, filepath.Join(dir, "nginx.conf"))
	get := func(port int, path string, expired bool) answer {
		t.Helper()
		cert := lab.ClientB
		if expired {
			cert = lab.ClientAExpired
		}
		a, err := ask(client(lab, shopHost, cert), fmt.Sprintf("127.0.0.1:%d", port), shopHost, request{Method: "GET", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := get(ports[0], "/index.html", false); a.Status != 200 {
		t.Errorf("optional_no_ca, wrong-CA certificate: %s, want 200", a)
	}
	// nginx writes the access log after the response: poll.
	servertest.Eventually(t, "optional_no_ca logs the wrong-CA verdict", func() error {
		if log, _ := os.ReadFile(filepath.Join(dir, "verify.log")); !strings.Contains(string(log), "FAILED:unable to verify the first certificate") {
			return fmt.Errorf("logged %q, want FAILED:unable to verify the first certificate", log)
		}
		return nil
	})
	if a := get(ports[0], "/index.html", true); a.Status != 400 {
		t.Errorf("optional_no_ca, expired certificate: %s, want 400: optional_no_ca alone is not soft", a)
	}
	if a := get(ports[1], "/index.html", true); a.Status != 200 {
		t.Errorf("error_page 495 hand-back, expired: %s, want 200", a)
	}
	if a := get(ports[1], "/missing", true); a.Status != 404 || strings.Contains(a.Body, "custom") {
		t.Errorf("hand-back without recursive_error_pages: %s; nginx now applies the site's error page after error_page 495: update docs/origin-servers.md and nginxRecursive", a)
	}
	const odd = "/api/a%7E%2Fb"
	if a := get(ports[1], odd, false); a.Backend != "GET "+odd+" body=" {
		t.Errorf("normal processing, backend saw %q, want the client's bytes", a.Backend)
	}
	if a := get(ports[1], odd, true); a.Backend != "GET /api/a~/b body=" {
		t.Errorf("hand-back, backend saw %q; if nginx now passes the client's bytes, update docs/origin-servers.md", a.Backend)
	}
	if a := get(ports[1], "/private/secret.txt", true); a.Status != 200 {
		t.Errorf("hand-back reaching an internal location: %s; if nginx now keeps it closed, the guards in @aopwizard_soft are no longer needed", a)
	}
}
