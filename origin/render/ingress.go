package render

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aopwizard/aopwizard/pki"
)

// ingress renders, per vhost, the Secret holding the CA bundle (key ca.crt)
// and an Ingress with the auth-tls annotations. It reads the CA files: the
// Secret must carry their content.
func (r *resolved) ingress() (*Output, error) {
	ns := r.Namespace
	if ns == "" {
		ns = "default"
	}
	backend := r.IngressBackend
	notes := []string{}
	if backend == "" {
		backend = "CHANGE-ME:80"
		notes = append(notes, "ingress-nginx: no backend service given: replace CHANGE-ME:80 with your service name and port")
	}
	svc, port, ok := strings.Cut(backend, ":")
	if !ok || svc == "" || port == "" {
		return nil, fmt.Errorf("ingress backend %q must be service:port", backend)
	}
	portField := "number: " + port
	if strings.Trim(port, "0123456789") != "" {
		portField = "name: " + port
	}
	tlsSecret := r.TLSSecret
	if tlsSecret == "" {
		tlsSecret = r.ID + "-tls"
	}
	verify := r.pick("optional_no_ca", "on")
	b := r.begin()
	for i, v := range r.vhosts() {
		name := "aopwizard-" + r.ID
		if r.Mode == Hostname {
			name += "-" + strings.ReplaceAll(strings.ReplaceAll(v.names[0], ".", "-"), "*", "wildcard")
		}
		ca, err := r.ingressCA(v.caFile)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(b, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s-ca\n  namespace: %s\ntype: Opaque\ndata:\n  ca.crt: %s\n---\n", name, ns, base64.StdEncoding.EncodeToString(ca))
		fmt.Fprintf(b, "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\n  namespace: %s\n  annotations:\n", name, ns)
		fmt.Fprintf(b, "    nginx.ingress.kubernetes.io/auth-tls-secret: %q\n    nginx.ingress.kubernetes.io/auth-tls-verify-client: %q\n", ns+"/"+name+"-ca", verify)
		fmt.Fprintf(b, "    nginx.ingress.kubernetes.io/auth-tls-verify-depth: \"%d\"\n    nginx.ingress.kubernetes.io/auth-tls-pass-certificate-to-upstream: \"false\"\n", VerifyDepth)
		b.WriteString("spec:\n  ingressClassName: nginx\n")
		if len(v.names) > 0 {
			fmt.Fprintf(b, "  tls:\n  - hosts: [%s]\n    secretName: %s\n  rules:\n", quoteJoin(v.names), tlsSecret)
			for _, n := range v.names {
				fmt.Fprintf(b, "  - host: %q\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: %s\n            port:\n              %s\n", n, svc, portField)
			}
		} else {
			fmt.Fprintf(b, "  tls:\n  - secretName: %s\n  defaultBackend:\n    service:\n      name: %s\n      port:\n        %s\n", tlsSecret, svc, portField)
		}
	}
	b.WriteString(EndMarker(r.ID) + "\n")
	notes = append(notes, r.pick(
		"ingress-nginx soft: optional_no_ca serves missing and wrong-CA certificates but still answers 400 to an EXPIRED one (snippet annotations that could add error_page 495 are disabled by default); renew expired client certificates before this step",
		"ingress-nginx enforce: rejections are HTTP 400, as with nginx"))
	notes = append(notes, `ingress-nginx: the verification result reaches the evidence only through the controller's log-format-upstream (ConfigMap), e.g. 'aop1 time=$time_iso8601 sni=$ssl_server_name host=$host status=$status verify=$ssl_client_verify fp=$ssl_client_fingerprint serial=$ssl_client_serial subject="$ssl_client_s_dn" issuer="$ssl_client_i_dn" client=$remote_addr ray="$http_cf_ray"'`)
	return &Output{Files: []File{{Path: r.path("aopwizard-" + r.ID + "-ingress.yaml"), Content: []byte(b.String()), Mode: 0o644}}, Notes: notes}, nil
}

// ingressCA is the content of the ca.crt key: the embedded Cloudflare CA in
// global mode, else the bundle file.
func (r *resolved) ingressCA(path string) ([]byte, error) {
	if r.globalCA {
		return globalCAPEM(), nil
	}
	ca, err := pki.ReadRegular(path, pki.MaxCABundleSize, "CA bundle")
	if err != nil {
		field := FieldCAFile
		if r.Mode == Hostname {
			field = FieldHostCA
		}
		return nil, &FieldError{Field: field, Value: path, Problem: "cannot be read to embed it in the ca.crt secret", Err: err,
			Remedy: "render ingress-nginx on a machine that has the CA bundle"}
	}
	return ca, nil
}
