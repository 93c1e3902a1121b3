package render

import (
	"fmt"
	"path/filepath"
	"strings"
)

// apacheLogFormat is the aop1 evidence line. Apache has no fingerprint
// variable (fp=-), and %{Host}i is the raw header, port included.
const apacheLogFormat = `"aop1 time=%{%Y-%m-%dT%H:%M:%S%z}t sni=%{SSL_TLS_SNI}x host=%{Host}i status=%>s verify=\"%{SSL_CLIENT_VERIFY}x\" fp=- serial=%{SSL_CLIENT_M_SERIAL}x subject=\"%{SSL_CLIENT_S_DN}x\" issuer=\"%{SSL_CLIENT_I_DN}x\" client=%a ray=\"%{CF-Ray}i\""`

// apacheVhostAddr is the <VirtualHost> address for the listen spec.
func (r *resolved) apacheVhostAddr() string {
	if r.listenHost == "" {
		return "*:" + r.listenPort
	}
	return r.listenAddr()
}

// apacheSite is the site file. withListen adds a Listen directive, which a
// Debian layout must not repeat for 443 (ports.conf has it: a second Listen
// on the same address stops Apache from starting).
func (r *resolved) apacheSite(withListen bool) []byte {
	b := r.begin()
	logName := "aopwizard_aop1_" + r.ID
	fmt.Fprintf(b, "LogFormat %s %s\n", apacheLogFormat, logName)
	if withListen {
		fmt.Fprintf(b, "Listen %s https\n", r.listenAddr())
	}
	for _, v := range r.vhosts() {
		fmt.Fprintf(b, "\n<VirtualHost %s>\n", r.apacheVhostAddr())
		if len(v.names) > 0 {
			fmt.Fprintf(b, "    ServerName %s\n", v.names[0])
		}
		if len(v.names) > 1 {
			fmt.Fprintf(b, "    ServerAlias %s\n", strings.Join(v.names[1:], " "))
		}
		fmt.Fprintf(b, "    SSLEngine on\n    SSLCertificateFile    %s\n    SSLCertificateKeyFile %s\n", r.q(r.ServerCertFile), r.q(r.ServerKeyFile))
		fmt.Fprintf(b, "    SSLCACertificateFile  %s\n", r.q(v.caFile))
		if r.soft() {
			b.WriteString("    # SOFT: optional_no_ca serves missing and wrong-CA certificates and logs the result;\n" +
				"    # an EXPIRED certificate is still refused with a TLS alert (plain \"optional\" would refuse wrong-CA too).\n" +
				"    SSLVerifyClient optional_no_ca\n")
		} else {
			b.WriteString("    # ENFORCE: no, wrong-CA or expired certificate -> TLS alert.\n    SSLVerifyClient require\n")
		}
		fmt.Fprintf(b, "    SSLVerifyDepth %d\n", VerifyDepth)
		if r.Mode == Hostname && !r.soft() {
			// Without SNI the first vhost's CA verified the certificate;
			// refuse such clients instead of serving another vhost.
			b.WriteString("    SSLStrictSNIVHostCheck on\n")
		}
		fmt.Fprintf(b, "    CustomLog %s %s\n", r.q(r.AccessLog), logName)
		if r.upstream != nil {
			if r.upstream.Scheme == "https" {
				b.WriteString("    SSLProxyEngine on\n")
			}
			u := r.upstream.String() + "/"
			fmt.Fprintf(b, "    ProxyPreserveHost On\n    ProxyPass / %s\n    ProxyPassReverse / %s\n", u, u)
			b.WriteString("    <IfModule headers_module>\n        RequestHeader set X-Client-Verify \"%{SSL_CLIENT_VERIFY}s\"\n    </IfModule>\n")
		} else {
			b.WriteString("    <IfModule headers_module>\n        Header always set X-Client-Verify \"%{SSL_CLIENT_VERIFY}s\"\n    </IfModule>\n")
		}
		b.WriteString("</VirtualHost>\n")
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	return []byte(b.String())
}

func (r *resolved) apacheNotes() []string {
	mods := "ssl"
	if r.upstream != nil {
		mods += " proxy proxy_http"
	}
	notes := []string{"apache: needs a2enmod " + mods + " (headers for the X-Client-Verify header); enable the site with a2ensite aopwizard-" + r.ID}
	notes = append(notes, r.pick(
		"apache soft: SSLVerifyClient optional_no_ca still refuses an EXPIRED client certificate with a TLS alert (measured: alert 45), so this soft phase is not fully soft; aopwizard checks the leaf's validity before this step — renew an expired or soon-expiring client certificate first",
		"apache enforce: rejections are TLS alerts (certificate required / unknown ca / certificate expired); they reach only the error log, at LogLevel ssl:info"))
	return notes
}

func (r *resolved) apache(standalone bool) *Output {
	withListen := standalone || r.listenPort != "443"
	notes := r.apacheNotes()
	if r.Mode == Hostname {
		notes = append(notes, "apache hostname mode: a client that sends no SNI is verified against the first vhost's CA; Apache itself answers 421 when its Host names another hostname, in the soft phase too, and the enforce phase answers 403 to every request without SNI (SSLStrictSNIVHostCheck)")
	}
	if !standalone && withListen {
		notes = append(notes, fmt.Sprintf("apache: the site file listens on %s itself; remove the Listen line if ports.conf already has it", r.listenAddr()))
	}
	return &Output{
		Files: []File{{Path: r.path(filepath.Join("sites-available", "aopwizard-"+r.ID+".conf")), Content: r.apacheSite(withListen), Mode: 0o644}},
		Notes: notes,
	}
}

// apacheModules are the shared modules the standalone config loads; Debian
// compiles log_config, unixd and so in (apache2 -l).
func (r *resolved) apacheModules() []string {
	mods := []string{"mpm_event", "authz_core", "ssl", "headers", "dir", "mime"}
	if r.upstream != nil {
		mods = append(mods, "proxy", "proxy_http")
	}
	return mods
}

// apacheStandalone mirrors docs/origin-servers.md, "Standalone Apache".
func (r *resolved) apacheStandalone() *Output {
	out := r.apache(true)
	rd := r.RuntimeDir
	htdocs := filepath.Join(rd, "htdocs")
	b := &strings.Builder{}
	b.WriteString("# aopwizard standalone Apache config (tests, demos). Start:\n")
	fmt.Fprintf(b, "#   apache2 -f %s -k start\n", shellQuote(filepath.Join(rd, "apache2.conf")))
	b.WriteString("ServerRoot /etc/apache2\n")
	for _, m := range r.apacheModules() {
		fmt.Fprintf(b, "LoadModule %s_module /usr/lib/apache2/modules/mod_%s.so\n", m, m)
	}
	serverName := "localhost"
	if len(r.Hosts) > 0 {
		serverName = r.Hosts[0].Name
	}
	fmt.Fprintf(b, "User www-data\nGroup www-data\nServerName %s\n", serverName)
	fmt.Fprintf(b, "PidFile %s\nDefaultRuntimeDir %s\nMutex %s default\n", r.q(filepath.Join(rd, "apache2.pid")), r.q(rd), r.q("file:"+rd))
	fmt.Fprintf(b, "ErrorLog %s\nLogLevel warn ssl:info\n", r.q(filepath.Join(rd, "error.log")))
	// mod_mime without TypesConfig passes -t but fails to start (AH01597).
	b.WriteString("TypesConfig /etc/mime.types\n")
	b.WriteString("SSLProtocol -all +TLSv1.2 +TLSv1.3\n")
	fmt.Fprintf(b, "DocumentRoot %s\n<Directory %s>\n    AllowOverride None\n    Require all granted\n</Directory>\n", r.q(htdocs), r.q(htdocs))
	fmt.Fprintf(b, "Include %s\n", r.q(out.Files[0].Path))
	out.Files = append([]File{{Path: filepath.Join(rd, "apache2.conf"), Content: []byte(b.String()), Mode: 0o644}}, out.Files...)
	out.Files = append(out.Files, File{Path: filepath.Join(htdocs, "index.html"), Content: []byte("ok\n"), Mode: 0o644})
	return out
}
