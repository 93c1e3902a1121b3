package render

import (
	"fmt"
	"strings"
)

// caddy renders a Caddyfile site block per vhost. Caddy (Go crypto/tls)
// has no mode that serves a bad certificate and records why it is bad.
func (r *resolved) caddy() *Output {
	b := r.begin()
	// Soft: verify_if_given would reject wrong-CA and expired certificates.
	mode := r.pick("request", "require_and_verify")
	for i, v := range r.vhosts() {
		if i > 0 {
			b.WriteString("\n")
		}
		addrs := []string{"https://:" + r.listenPort}
		if len(v.names) > 0 {
			addrs = addrs[:0]
			for _, n := range v.names {
				addrs = append(addrs, "https://"+n+":"+r.listenPort)
			}
		}
		fmt.Fprintf(b, "%s {\n", strings.Join(addrs, ", "))
		if r.listenHost != "" {
			fmt.Fprintf(b, "\tbind %s\n", r.listenHost)
		}
		fmt.Fprintf(b, "\ttls %s %s {\n\t\tprotocols tls1.2\n\t\tclient_auth {\n\t\t\tmode %s\n", r.q(r.ServerCertFile), r.q(r.ServerKeyFile), mode)
		if r.CaddyLegacy {
			fmt.Fprintf(b, "\t\t\ttrusted_ca_cert_file %s\n", r.q(v.caFile))
		} else {
			fmt.Fprintf(b, "\t\t\ttrust_pool file %s\n", r.q(v.caFile))
		}
		b.WriteString("\t\t}\n\t}\n")
		fmt.Fprintf(b, "\tlog {\n\t\toutput file %s\n\t\tformat json\n\t}\n", r.q(r.AccessLog))
		if r.upstream != nil {
			fmt.Fprintf(b, "\treverse_proxy %s {\n\t\theader_up X-Client-Fingerprint {http.request.tls.client.fingerprint}\n\t}\n", r.upstream)
		} else {
			b.WriteString("\trespond \"ok fingerprint={http.request.tls.client.fingerprint}\" 200\n")
		}
		b.WriteString("}\n")
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	syntax := "trust_pool file (Caddy >= 2.8)"
	if r.CaddyLegacy {
		syntax = "trusted_ca_cert_file (Caddy < 2.8, e.g. Debian's 2.6.2)"
	}
	notes := []string{
		"caddy: the CA is given with " + syntax + "; Caddy writes JSON access logs, not aop1 lines: point evidence at the probe results instead",
	}
	notes = append(notes, r.pick(
		"caddy soft: Caddy cannot be soft and informative — mode request accepts every request but verifies nothing and logs no verification result (verify_if_given would reject wrong-CA and expired certificates). Use the probe-only path: aopwizard's probe checks the chain to the CA itself",
		"caddy enforce: rejections are TLS alerts or, on TLS 1.3, sometimes a connection reset; Caddy refuses SNI/Host mismatches with 421 once client auth is on"))
	return &Output{Files: []File{{Path: r.path("aopwizard-" + r.ID + ".caddy"), Content: []byte(b.String()), Mode: 0o644}}, Notes: append(notes,
		"caddy: add `import "+r.q(r.path("aopwizard-"+r.ID+".caddy"))+"` to the Caddyfile and remove any other site block for these hostnames")}
}
