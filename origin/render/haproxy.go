package render

import (
	"fmt"
	"path/filepath"
	"strings"
)

// haproxyLogFormat is the aop1 evidence line. HAProxy cannot name the
// verification result, so it logs used=<ssl_c_used> verify=<X509 error
// number> (0 also when no certificate was sent) and origin/evidence
// normalises them.
const haproxyLogFormat = `"aop1 time=%[date,utime(%Y-%m-%dT%H:%M:%S+0000)] sni=%[ssl_fc_sni] host=%[var(txn.host)] status=%ST used=%[ssl_c_used] verify=%[ssl_c_verify] fp=%[ssl_c_sha1,hex,lower] serial=%[ssl_c_serial,hex] subject=%{+Q}[ssl_c_s_dn(,0,rfc2253)] issuer=%{+Q}[ssl_c_i_dn(,0,rfc2253)] client=%ci ray=%{+Q}[var(txn.ray)]"`

// haproxyErrorLogFormat records handshakes HAProxy refused (enforce phase),
// which never reach log-format. It does not start with aop1 on purpose: it
// is no request.
const haproxyErrorLogFormat = `"aopwizard-tls-error time=%[date,utime(%Y-%m-%dT%H:%M:%S+0000)] client=%ci sni=%[ssl_fc_sni] err=%{+Q}[fc_err_str] ssl_err=%{+Q}[ssl_fc_err_str] used=%[ssl_c_used] verify=%[ssl_c_verify]"`

// haproxyLogVars capture, at request time, the header values the log
// format prints at the end of the request.
var haproxyLogVars = []string{
	"http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
	"http-request set-var(txn.ray) req.hdr(cf-ray)",
}

func (r *resolved) crtListPath() string { return r.path("aopwizard-" + r.ID + ".crt-list") }

func (r *resolved) haproxyVerify() string { return r.pick("verify optional", "verify required") }

// haproxyBlock is the managed block for haproxy.cfg: a frontend (and a
// backend for the upstream). It logs through "log global": HAProxy cannot
// write a file, so the evidence lands where the global section sends logs.
func (r *resolved) haproxyBlock() []byte {
	b := r.begin()
	name := "aopwizard_" + r.ID
	fmt.Fprintf(b, "frontend %s\n", name)
	bind := "    bind " + r.listenAddr()
	if r.listenHost == "" {
		bind = "    bind :" + r.listenPort
	}
	if r.Mode == Hostname {
		bind += " ssl crt-list " + r.q(r.crtListPath())
	} else {
		bind += fmt.Sprintf(" ssl crt %s ca-file %s %s", r.q(r.ServerCertFile), r.q(r.CAFile), r.haproxyVerify())
	}
	if r.soft() {
		// Only valid on the bind line (fatal inside crt-list brackets).
		bind += " ca-ignore-err all crt-ignore-err all"
		b.WriteString("    # SOFT: verify optional alone aborts the handshake for a wrong-CA or expired certificate;\n" +
			"    # ca-ignore-err/crt-ignore-err let it through, and the log keeps ssl_c_used/ssl_c_verify.\n")
	} else {
		b.WriteString("    # ENFORCE: no, wrong-CA or expired certificate -> TLS alert.\n")
	}
	b.WriteString(bind + "\n")
	b.WriteString("    mode http\n    log global\n")
	fmt.Fprintf(b, "    log-format %s\n    error-log-format %s\n", haproxyLogFormat, haproxyErrorLogFormat)
	for _, l := range haproxyLogVars {
		b.WriteString("    " + l + "\n")
	}
	if r.Mode == Hostname {
		b.WriteString("    # HAProxy serves an SNI/Host mismatch by itself; refuse it so one hostname cannot borrow another's CA.\n")
		b.WriteString("    http-request deny deny_status 421 if { ssl_fc_has_sni } !{ ssl_fc_sni,strcmp(txn.host) eq 0 }\n")
		if !r.soft() {
			b.WriteString("    # Without SNI the first crt-list line's CA verified the certificate.\n")
			b.WriteString("    http-request deny deny_status 421 if !{ ssl_fc_has_sni }\n")
		}
	}
	if r.upstream != nil {
		b.WriteString("    http-request set-header X-Client-Verify %[ssl_c_verify]\n    http-request set-header X-Client-Used %[ssl_c_used]\n")
		fmt.Fprintf(b, "    default_backend %s_upstream\n\nbackend %s_upstream\n    mode http\n", name, name)
		server := "    server upstream " + r.upstream.Host
		if r.upstream.Port() == "" {
			server += map[string]string{"http": ":80", "https": ":443"}[r.upstream.Scheme]
		}
		if r.upstream.Scheme == "https" {
			server += " ssl verify required ca-file @system-ca sni str(" + r.upstream.Hostname() + ")"
		}
		b.WriteString(server + "\n")
	} else {
		b.WriteString("    http-after-response set-header X-Client-Verify %[ssl_c_verify]\n    http-after-response set-header X-Client-Used %[ssl_c_used]\n")
		b.WriteString("    http-request return status 200 content-type text/plain lf-string \"ok used=%[ssl_c_used] verify=%[ssl_c_verify]\\n\"\n")
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	return []byte(b.String())
}

// haproxyCrtList is the per-hostname crt-list: one line per hostname with
// its own CA; the first line also serves clients without SNI.
func (r *resolved) haproxyCrtList() []byte {
	b := r.begin()
	for _, h := range r.Hosts {
		fmt.Fprintf(b, "%s [ca-file %s %s] %s\n", r.ServerCertFile, h.CAFile, r.haproxyVerify(), h.Name)
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	return []byte(b.String())
}

func (r *resolved) haproxy(standalone bool) *Output {
	out := &Output{Files: []File{{Path: r.path("haproxy.cfg"), Content: r.haproxyBlock(), Mode: 0o644, Block: !standalone}}}
	if r.Mode == Hostname {
		out.Files = append(out.Files, File{Path: r.crtListPath(), Content: r.haproxyCrtList(), Mode: 0o644})
	}
	out.Notes = append(out.Notes, "haproxy: the first file is a managed block for haproxy.cfg (merge it with render.ReplaceBlock); its frontend binds "+r.listenAddr()+" itself, so no other frontend may bind that address")
	if standalone {
		out.Notes = append(out.Notes, "haproxy standalone: HAProxy cannot log to a file; it logs to stdout, so run it with stdout redirected to the evidence log: "+r.haproxyStartCommand())
	} else {
		out.Notes = append(out.Notes, "haproxy: evidence lines go to the global log target (Debian: log /dev/log -> rsyslog -> /var/log/haproxy.log, after a syslog prefix); the access-log path is not used")
	}
	out.Notes = append(out.Notes, r.pick(
		"haproxy soft: every request is served; the log has used=1 verify=0 for a valid certificate, used=0 for none, verify=<X509 error> (21 wrong CA, 10 expired) otherwise",
		"haproxy enforce: rejections are TLS alerts; they are logged by error-log-format as aopwizard-tls-error lines"))
	return out
}

// haproxyStartCommand runs the standalone config in the foreground with
// the evidence (stdout) and HAProxy's own messages (stderr) apart; the
// pid file is where origin/server's standalone driver looks for it.
func (r *resolved) haproxyStartCommand() string {
	return fmt.Sprintf("haproxy -W -db -f %s -p %s > %s 2> %s", shellQuote(filepath.Join(r.RuntimeDir, "haproxy.cfg")),
		shellQuote(filepath.Join(r.RuntimeDir, "haproxy.pid")), shellQuote(r.AccessLog), shellQuote(filepath.Join(r.RuntimeDir, "error.log")))
}

// haproxyStandalone mirrors docs/origin-servers.md, "Standalone HAProxy".
// The global log target
// is stdout (raw), which the harness redirects into the evidence log.
func (r *resolved) haproxyStandalone() *Output {
	// In the standalone layout the managed block is the main config's tail.
	out := r.haproxy(true)
	main := filepath.Join(r.RuntimeDir, "haproxy.cfg")
	b := &strings.Builder{}
	b.WriteString("# aopwizard standalone HAProxy config (tests, demos). Start (stdout is the evidence log):\n")
	fmt.Fprintf(b, "#   %s\n", r.haproxyStartCommand())
	// No pidfile directive: the start command's -p names it, and HAProxy
	// alerts "'pidfile' already specified" when both do.
	b.WriteString("global\n    log stdout format raw local0 info\n    ssl-default-bind-options ssl-min-ver TLSv1.2\n")
	b.WriteString("defaults\n    mode http\n    log global\n    timeout connect 5s\n    timeout client 10s\n    timeout server 10s\n\n")
	b.Write(out.Files[0].Content)
	out.Files[0] = File{Path: main, Content: []byte(b.String()), Mode: 0o644}
	return out
}
