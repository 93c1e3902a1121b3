package render

import (
	"fmt"
	"strings"
)

// envoyLogFormat is the aop1 evidence line. Envoy has no verification-result
// variable; the route that matched encodes it (see envoyRoutes), so
// verify=%ROUTE_NAME%.
const envoyLogFormat = `aop1 time=%START_TIME(%Y-%m-%dT%H:%M:%S%z)% sni=%REQUESTED_SERVER_NAME% host=%REQ(:AUTHORITY)% status=%RESPONSE_CODE% verify=%ROUTE_NAME% fp=%DOWNSTREAM_PEER_FINGERPRINT_1% serial=%DOWNSTREAM_PEER_SERIAL% subject="%DOWNSTREAM_PEER_SUBJECT%" issuer="%DOWNSTREAM_PEER_ISSUER%" client=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% ray="%REQ(CF-RAY)%"` + "\n"

// envoyRoutes classify each request by its certificate: routes match in
// order, and each is named after the aop1 verify value it stands for.
func (r *resolved) envoyRoutes(in string) string {
	action := in + "  direct_response: {status: 200, body: {inline_string: \"ok\\n\"}}\n"
	if r.upstream != nil {
		action = in + "  route: {cluster: aopwizard_" + r.ID + "_upstream}\n"
	}
	b := &strings.Builder{}
	for _, rt := range []struct{ name, tls string }{
		{"SUCCESS", "{presented: true, validated: true}"},
		{"FAILED:untrusted", "{presented: true}"},
		{"NONE", ""},
	} {
		fmt.Fprintf(b, "%s- name: %q\n%s  match:\n%s    prefix: \"/\"\n", in, rt.name, in, in)
		if rt.tls != "" {
			fmt.Fprintf(b, "%s    tls_context: %s\n", in, rt.tls)
		}
		b.WriteString(action)
	}
	return b.String()
}

// envoy renders a static listener with one filter chain per vhost.
func (r *resolved) envoy() *Output {
	b := r.begin()
	addr := r.listenHost
	if addr == "" {
		addr = "0.0.0.0"
	}
	fmt.Fprintf(b, "static_resources:\n  listeners:\n  - name: aopwizard_%s\n    address:\n      socket_address: {address: %q, port_value: %s}\n", r.ID, addr, r.listenPort)
	b.WriteString("    listener_filters:\n    - name: envoy.filters.listener.tls_inspector\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector\n")
	b.WriteString("    filter_chains:\n")
	for _, v := range r.vhosts() {
		if len(v.names) > 0 {
			fmt.Fprintf(b, "    - filter_chain_match:\n        server_names: [%s]\n      transport_socket:\n", quoteJoin(v.names))
		} else {
			b.WriteString("    - transport_socket:\n")
		}
		b.WriteString("        name: envoy.transport_sockets.tls\n        typed_config:\n          \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext\n")
		fmt.Fprintf(b, "          require_client_certificate: %t\n          common_tls_context:\n", !r.soft())
		fmt.Fprintf(b, "            tls_params: {tls_minimum_protocol_version: TLSv1_2}\n            tls_certificates:\n            - certificate_chain: {filename: %q}\n              private_key: {filename: %q}\n", r.ServerCertFile, r.ServerKeyFile)
		fmt.Fprintf(b, "            validation_context:\n              trusted_ca: {filename: %q}\n", v.caFile)
		if r.soft() {
			b.WriteString("              # SOFT: without this a presented wrong-CA or expired certificate is still rejected.\n              trust_chain_verification: ACCEPT_UNTRUSTED\n")
		}
		b.WriteString("      filters:\n      - name: envoy.filters.network.http_connection_manager\n        typed_config:\n")
		b.WriteString("          \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n")
		fmt.Fprintf(b, "          stat_prefix: aopwizard_%s\n", r.ID)
		b.WriteString("          http_filters:\n          - name: envoy.filters.http.router\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n")
		b.WriteString("          access_log:\n          - name: envoy.access_loggers.file\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n")
		fmt.Fprintf(b, "              path: %q\n              log_format:\n                text_format_source:\n                  inline_string: %q\n", r.AccessLog, envoyLogFormat)
		b.WriteString("          route_config:\n            virtual_hosts:\n")
		domains := `"*"`
		if len(v.names) > 0 {
			var ds []string
			for _, n := range v.names {
				ds = append(ds, n, n+":*")
			}
			domains = quoteJoin(ds)
		}
		fmt.Fprintf(b, "            - name: aopwizard_%s\n              domains: [%s]\n              routes:\n%s", r.ID, domains, r.envoyRoutes("              "))
		if r.Mode == Hostname {
			// Envoy routes by Host within the chain SNI chose: any other Host is a mismatch.
			b.WriteString("            - name: sni_host_mismatch\n              domains: [\"*\"]\n              routes:\n              - match: {prefix: \"/\"}\n                direct_response: {status: 421}\n")
		}
	}
	if r.upstream != nil {
		port := r.upstream.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[r.upstream.Scheme]
		}
		fmt.Fprintf(b, "  clusters:\n  - name: aopwizard_%s_upstream\n    type: STRICT_DNS\n    load_assignment:\n      cluster_name: aopwizard_%s_upstream\n      endpoints:\n      - lb_endpoints:\n        - endpoint:\n            address:\n              socket_address: {address: %q, port_value: %s}\n",
			r.ID, r.ID, r.upstream.Hostname(), port)
		if r.upstream.Scheme == "https" {
			fmt.Fprintf(b, "    transport_socket:\n      name: envoy.transport_sockets.tls\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\n        sni: %q\n", r.upstream.Hostname())
		}
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	notes := []string{"envoy: rendered from the documentation, not run here; check it with envoy --mode validate -c FILE before use and merge the listener into your bootstrap"}
	notes = append(notes, r.pick(
		"envoy soft: require_client_certificate false + ACCEPT_UNTRUSTED serves every request; the route name logs SUCCESS, FAILED:untrusted (wrong CA or expired) or NONE",
		"envoy enforce: rejections are TLS alerts; Envoy may send no CA names in the CertificateRequest (the probe reports that as inconclusive, not failed)"))
	return &Output{Files: []File{{Path: r.path("aopwizard-" + r.ID + ".yaml"), Content: []byte(b.String()), Mode: 0o644}}, Notes: notes}
}

func quoteJoin(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
