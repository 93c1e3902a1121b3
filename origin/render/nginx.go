package render

import (
	"fmt"
	"path/filepath"
	"strings"
)

// nginxLogFormat is the aop1 evidence line. nginx writes "-" for empty
// variables, so a request without a certificate logs fp=- serial=- and
// subject="-". The CF-Ray header is client-supplied, so it is quoted (nginx
// escapes a quote inside as \x22): an unquoted value could forge fields.
const nginxLogFormat = `'aop1 time=$time_iso8601 sni=$ssl_server_name host=$host status=$status verify="$ssl_client_verify" '
        'fp=$ssl_client_fingerprint serial=$ssl_client_serial subject="$ssl_client_s_dn" issuer="$ssl_client_i_dn" '
        'client=$remote_addr ray="$http_cf_ray"'`

// nginxSite is the conf.d include (http context). defaultServer marks the
// first server block default_server, which only the standalone config may
// do: a production nginx usually has its own default server.
func (r *resolved) nginxSite(defaultServer bool) []byte {
	b := r.begin()
	logName := "aopwizard_aop1_" + r.ID
	fmt.Fprintf(b, "log_format %s %s;\n", logName, nginxLogFormat)
	listen := r.listenAddr()
	for i, v := range r.vhosts() {
		names := "_"
		if len(v.names) > 0 {
			names = strings.Join(v.names, " ")
		}
		def := ""
		if defaultServer && i == 0 {
			def = " default_server"
		}
		fmt.Fprintf(b, "\nserver {\n    listen %s ssl%s;\n    server_name %s;\n", listen, def, names)
		fmt.Fprintf(b, "    ssl_certificate        %s;\n    ssl_certificate_key    %s;\n", r.q(r.ServerCertFile), r.q(r.ServerKeyFile))
		fmt.Fprintf(b, "    # The CA names in this bundle are sent in the CertificateRequest.\n    ssl_client_certificate %s;\n", r.q(v.caFile))
		if r.soft() {
			b.WriteString("    # SOFT: \"optional\" alone answers 400 to a wrong-CA or expired certificate;\n" +
				"    # error_page 495 hands those requests to @aopwizard_soft, which serves them anyway.\n" +
				"    ssl_verify_client optional;\n    error_page 495 = @aopwizard_soft;\n")
		} else {
			b.WriteString("    # ENFORCE: no certificate -> 400, wrong CA or expired -> 400 (HTTP, after the handshake).\n    ssl_verify_client on;\n")
		}
		fmt.Fprintf(b, "    ssl_verify_depth %d;\n    access_log %s %s;\n", VerifyDepth, r.q(r.AccessLog), logName)
		if r.Mode == Hostname && !r.soft() {
			// nginx checks Host against SNI only when an SNI was sent; without
			// one the default server's CA verified the certificate.
			b.WriteString("    if ($ssl_server_name = \"\") { return 421; }\n")
		}
		handle := r.nginxHandle()
		if r.upstream == nil {
			b.WriteString("    default_type text/plain;\n    add_header X-Client-Verify $ssl_client_verify always;\n")
		}
		fmt.Fprintf(b, "    location / {\n%s    }\n", handle)
		if r.soft() {
			fmt.Fprintf(b, "    location @aopwizard_soft {\n%s    }\n", handle)
		}
		b.WriteString("}\n")
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	return []byte(b.String())
}

// nginxHandle is the normal request handling, repeated in @aopwizard_soft.
func (r *resolved) nginxHandle() string {
	const in = "        "
	if r.upstream == nil {
		return in + "return 200 \"ok verify=$ssl_client_verify\\n\";\n"
	}
	// proxy_pass without a URI part keeps the request URI, which is also the
	// only form nginx accepts in a named location.
	return in + "proxy_pass " + r.upstream.String() + ";\n" +
		in + "proxy_set_header Host $host;\n" +
		in + "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n" +
		in + "proxy_set_header X-Forwarded-Proto https;\n" +
		in + "proxy_set_header X-Client-Verify $ssl_client_verify;\n"
}

func (r *resolved) nginxNotes() []string {
	notes := []string{"nginx: the fragment holds complete server blocks for these hostnames; if another server block already serves them on the same port, move its locations into this one (nginx ignores the second: \"conflicting server name\")"}
	notes = append(notes, r.pick(
		"nginx soft: every request is served, wrong-CA and expired certificates through @aopwizard_soft, which repeats the normal handling; $ssl_client_verify is logged",
		"nginx enforce: rejections are HTTP 400 after a completed handshake (\"No required SSL certificate was sent\" / \"The SSL certificate error\"), not TLS alerts"))
	return notes
}

func (r *resolved) nginx(defaultServer bool) *Output {
	return &Output{
		Files: []File{{Path: r.path(filepath.Join("conf.d", "aopwizard-"+r.ID+".conf")), Content: r.nginxSite(defaultServer), Mode: 0o644}},
		Notes: r.nginxNotes(),
	}
}

// nginxStandalone mirrors docs/origin-servers.md, "Standalone nginx".
// Everything nginx writes
// goes under RuntimeDir; nginx must still be started with an absolute -e,
// because it opens its compiled-in error log before reading the config.
func (r *resolved) nginxStandalone() *Output {
	site := r.nginx(true)
	rd := r.RuntimeDir
	b := &strings.Builder{}
	b.WriteString("# aopwizard standalone nginx config (tests, demos). Start:\n")
	fmt.Fprintf(b, "#   %s\n", r.nginxStartCommand())
	fmt.Fprintf(b, "worker_processes 1;\npid %s;\nerror_log %s info;\nevents { worker_connections 64; }\nhttp {\n",
		r.q(filepath.Join(rd, "nginx.pid")), r.q(filepath.Join(rd, "error.log")))
	for _, t := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(b, "    %s_temp_path %s;\n", t, r.q(filepath.Join(rd, "temp-"+t)))
	}
	// The compiled-in default access log lives under /usr/share/nginx, which
	// may not exist; the server blocks log to the evidence log instead.
	b.WriteString("    access_log off;\n")
	b.WriteString("    ssl_protocols TLSv1.2 TLSv1.3; # the 1.22 default lacks TLSv1.3\n")
	fmt.Fprintf(b, "    include %s;\n}\n", r.q(site.Files[0].Path))
	site.Files = append([]File{{Path: filepath.Join(rd, "nginx.conf"), Content: []byte(b.String()), Mode: 0o644}}, site.Files...)
	site.Notes = append(site.Notes, fmt.Sprintf("nginx standalone: start with an absolute -e (%s)", r.nginxStartCommand()))
	return site
}

// nginxStartCommand is the shell command that starts the standalone config.
func (r *resolved) nginxStartCommand() string {
	return "nginx -c " + shellQuote(filepath.Join(r.RuntimeDir, "nginx.conf")) + " -e " + shellQuote(filepath.Join(r.RuntimeDir, "error.log"))
}
