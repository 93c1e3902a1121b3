package render

import (
	"fmt"
	"strings"
)

func (r *resolved) traefikOptionName(v vhost) string {
	if r.Mode == Hostname {
		return "aopwizard-" + r.ID + "-" + strings.ReplaceAll(strings.ReplaceAll(v.names[0], ".", "-"), "*", "wildcard")
	}
	return "aopwizard-" + r.ID
}

// traefik renders a file-provider dynamic configuration: TLS options per
// vhost, and routers plus a service when an upstream is given.
func (r *resolved) traefik() *Output {
	b := r.begin()
	// Soft: VerifyClientCertIfGiven would reject wrong-CA and expired certificates.
	authType := r.pick("RequestClientCert", "RequireAndVerifyClientCert")
	fmt.Fprintf(b, "tls:\n  certificates:\n    - certFile: %s\n      keyFile: %s\n  options:\n", yamlQuote(r.ServerCertFile), yamlQuote(r.ServerKeyFile))
	for _, v := range r.vhosts() {
		fmt.Fprintf(b, "    %s:\n      minVersion: VersionTLS12\n      clientAuth:\n        caFiles:\n          - %s\n        clientAuthType: %s\n",
			r.traefikOptionName(v), yamlQuote(v.caFile), authType)
	}
	if r.upstream != nil {
		b.WriteString("http:\n  routers:\n")
		for _, v := range r.vhosts() {
			rule := "HostRegexp(`.+`)"
			if len(v.names) > 0 {
				parts := make([]string, len(v.names))
				for i, n := range v.names {
					parts[i] = "Host(`" + n + "`)"
				}
				rule = strings.Join(parts, " || ")
			}
			fmt.Fprintf(b, "    %s:\n      rule: %q\n      entryPoints:\n        - websecure\n      service: aopwizard-%s\n      tls:\n        options: %s\n",
				r.traefikOptionName(v), rule, r.ID, r.traefikOptionName(v))
		}
		fmt.Fprintf(b, "  services:\n    aopwizard-%s:\n      loadBalancer:\n        passHostHeader: true\n        servers:\n          - url: %q\n", r.ID, r.upstream.String())
	} else {
		b.WriteString("# No upstream given: add `tls: {options: <name>@file}` (names above) to the routers of these hostnames.\n")
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	notes := []string{
		fmt.Sprintf("traefik: load this file with the file provider; the entry point (websecure, address %s) and the access log are static configuration; routers of one hostname must all use the same TLS option, or Traefik falls back to the default option and silently drops client auth", r.listenAddr()),
	}
	notes = append(notes, r.pick(
		"traefik soft: Traefik cannot be soft and informative — RequestClientCert accepts every request but verifies nothing and logs no verification result (VerifyClientCertIfGiven would reject wrong-CA and expired certificates). Use the probe-only path: aopwizard's probe checks the chain to the CA itself",
		"traefik enforce: rejections are TLS alerts or, on TLS 1.3, sometimes a connection reset; there is no config test command (traefik#6694): verify with the probe after the file provider reloads"))
	return &Output{Files: []File{{Path: r.path("dynamic/aopwizard-" + r.ID + ".yml"), Content: []byte(b.String()), Mode: 0o644}}, Notes: notes}
}
