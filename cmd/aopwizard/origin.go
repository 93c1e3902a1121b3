package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/aopwizard/aopwizard/origin/render"
)

func newOriginCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "origin",
		Short: "Configure, check and roll back client-certificate verification on the origin server",
		Long: "origin renders, applies and verifies the origin web server configuration for\n" +
			"Authenticated Origin Pulls: a soft phase that accepts every request and logs the\n" +
			"client-certificate verification result, then an enforce phase that requires it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newOriginRenderCmd(), newOriginApplyCmd(), newOriginRollbackCmd(), newOriginEvidenceCmd(), newOriginSitesCmd())
	return cmd
}

type originRenderFlags struct {
	server, phase, mode, caFile, listen, upstream, cert, key, accessLog, id, clientCert string
	hostnames, hostCAs                                                                  []string
	standalone, caddyLegacy                                                             bool
	out, runtimeDir, confDir, namespace, ingressBackend, tlsSecret                      string
	// siteCert: the existing site serves its own certificate, so --cert
	// and --key may be left out (origin apply --target existing).
	siteCert bool
}

func newOriginRenderCmd() *cobra.Command {
	var f originRenderFlags
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print or write the origin server configuration for a phase",
		Long: "render prints the configuration fragment for the origin server (each file under a\n" +
			"==> PATH <== header), or writes the files atomically into --out. Notes about what\n" +
			"the phase does not cover on that server go to stderr: read them.\n\n" +
			"soft:    accept every request as before, log the verification result (aop1 lines)\n" +
			"enforce: require a client certificate that chains to the CA bundle\n\n" +
			"Servers: " + serverNames() + ".",
		Example: "  aopwizard origin render --server nginx --phase soft --ca-file /etc/ssl/aop/zone-ca.pem --hostname example.com\n" +
			"  aopwizard origin render --server haproxy --phase enforce --mode hostname \\\n" +
			"      --host-ca a.example.com=/etc/ssl/aop/a-ca.pem --host-ca b.example.com=/etc/ssl/aop/b-ca.pem \\\n" +
			"      --cert /etc/haproxy/certs/origin.pem --out /etc/haproxy\n" +
			"  aopwizard origin render --server nginx --phase soft --mode global --standalone --out /tmp/lab --cert c.pem --key k.pem --listen 127.0.0.1:18443",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mergeSpecFile(cmd.Flags()); err != nil {
				return err
			}
			return runOriginRender(cmd, f)
		},
	}
	fl := cmd.Flags()
	bindOriginSpecFlags(fl, &f, serverNames()+" (required)")
	bindClientCertFlag(fl, &f)
	fl.BoolVar(&f.standalone, "standalone", false, "render a complete main config (nginx, apache, haproxy, builtin) for tests and demos")
	fl.StringVar(&f.runtimeDir, "runtime-dir", "", "with --standalone: directory for pid, temp files and error log (default --out)")
	fl.StringVar(&f.out, "out", "", "write the files into this directory (as the server's config dir) instead of printing them")
	fl.BoolVar(&f.caddyLegacy, "caddy-legacy", false, "Caddy < 2.8 (Debian 12's 2.6.2): trusted_ca_cert_file instead of trust_pool")
	fl.StringVar(&f.namespace, "namespace", "", "for ingress-nginx: the Kubernetes namespace (default \"default\")")
	fl.StringVar(&f.ingressBackend, "ingress-backend", "", "for ingress-nginx: the backend service as name:port")
	fl.StringVar(&f.tlsSecret, "tls-secret", "", "for ingress-nginx: the TLS secret with the origin certificate (default <id>-tls)")
	return cmd
}

// bindOriginSpecFlags binds the flags that describe the site, shared by
// `origin render` and `origin apply` so both build the same render.Spec (and
// the same managed-block id) from the same command line. servers lists the
// servers the command supports, for the help text.
func bindOriginSpecFlags(fl *pflag.FlagSet, f *originRenderFlags, servers string) {
	fl.StringVar(&f.server, "server", "", "origin server: "+servers)
	fl.StringVar(&f.phase, "phase", "", "soft (accept all, log the result) or enforce (require the certificate) (required)")
	fl.StringVar(&f.mode, "mode", "", "global (Cloudflare's shared CA), zone (one CA) or hostname (a CA per hostname); default zone, or hostname when --host-ca is given")
	fl.StringVar(&f.caFile, "ca-file", "", "the CA bundle the origin trusts in zone mode (may hold several CAs during a rotation); global mode defaults to Cloudflare's CA, written next to the config")
	fl.StringArrayVar(&f.hostnames, "hostname", nil, "hostname served (repeatable)")
	fl.StringArrayVar(&f.hostCAs, "host-ca", nil, "one hostname's own CA bundle in hostname mode, as HOST=PATH (repeatable; adds the hostname)")
	fl.StringVar(&f.listen, "listen", ":443", "address to listen on, [IP]:port (apply checks the listener there)")
	fl.StringVar(&f.upstream, "upstream", "", "where to proxy to, as http(s)://host:port; empty answers 200 \"ok verify=…\" (tests, demos)")
	fl.StringVar(&f.cert, "cert", "", "the origin's own TLS certificate (HAProxy: certificate and key in one PEM)")
	fl.StringVar(&f.key, "key", "", "the origin's TLS private key (not for HAProxy)")
	fl.StringVar(&f.accessLog, "access-log", "", "evidence log path (aop1 lines); default per server, e.g. /var/log/nginx/aopwizard-<id>.log")
	fl.StringVar(&f.id, "id", "", "the managed-block id, e.g. the zone name; default the first hostname")
	fl.String(specFileFlag, "", "read these inputs from an origin spec file (YAML or JSON, keys named like these flags); flags given win")
	fl.StringVar(&f.confDir, "conf-dir", "", "the server's config directory the files refer to (default: render's --out, apply's directory of --config, else the usual one, e.g. /etc/nginx)")
}

// bindClientCertFlag binds --client-cert, with which the CA bundle is
// checked against the certificate Cloudflare will present.
func bindClientCertFlag(fl *pflag.FlagSet, f *originRenderFlags) {
	fl.StringVar(&f.clientCert, "client-cert", "", "the client certificate Cloudflare presents (the one uploaded); the CA bundle must verify it, or nothing is rendered or applied")
}

func serverNames() string {
	names := make([]string, len(render.Servers))
	for i, s := range render.Servers {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// absPath makes a user-given path absolute: the servers resolve relative
// paths against their own directories, not the shell's.
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("make %s absolute: %w", p, err)
	}
	return a, nil
}

// spec turns the flags into a render.Spec with the library's defaults;
// what is still missing or invalid is reported by Validate/Render, all at
// once (see specError).
func (f originRenderFlags) spec() (render.Spec, error) {
	s := render.Spec{
		Server: render.Server(f.server), Phase: render.Phase(f.phase), Mode: render.Mode(f.mode), ID: f.id,
		Listen: f.listen, Upstream: f.upstream, CaddyLegacy: f.caddyLegacy,
		Namespace: f.namespace, IngressBackend: f.ingressBackend, TLSSecret: f.tlsSecret,
	}
	hostCA := map[string]string{}
	for _, hc := range f.hostCAs {
		h, p, ok := strings.Cut(hc, "=")
		if !ok || h == "" || p == "" {
			return s, usagef("--host-ca %q is not HOST=PATH (e.g. --host-ca a.example.com=/etc/ssl/aop/a-ca.pem)", hc)
		}
		h = strings.ToLower(h)
		if _, dup := hostCA[h]; dup {
			return s, usagef("--host-ca names %s twice; give one CA bundle per hostname", h)
		}
		var err error
		if hostCA[h], err = absPath(p); err != nil {
			return s, asUsage(err)
		}
	}
	names := slices.Clone(f.hostnames)
	for h := range hostCA {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, h) }) {
			names = append(names, h)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		s.Hosts = append(s.Hosts, render.Host{Name: n, CAFile: hostCA[strings.ToLower(n)]})
	}
	for dst, src := range map[*string]string{
		&s.CAFile: f.caFile, &s.ServerCertFile: f.cert, &s.ServerKeyFile: f.key, &s.AccessLog: f.accessLog,
		&s.RuntimeDir: f.runtimeDir, &s.ConfDir: f.confDir, &s.ClientCertFile: f.clientCert,
	} {
		var err error
		if *dst, err = absPath(src); err != nil {
			return s, asUsage(err)
		}
	}
	out, err := absPath(f.out)
	if err != nil {
		return s, asUsage(err)
	}
	s.ApplyDefaults(f.standalone, out)
	// Validate here, so every command that builds its spec from these flags
	// reports all bad inputs at once, each with its flag.
	var validate func() error = s.Validate
	if f.standalone {
		validate = func() error { _, err := render.Standalone(s); return err }
	}
	if err := validate(); err != nil {
		if f.siteCert {
			err = withoutMissingCert(err)
		}
		if err != nil {
			return s, specError(err)
		}
	}
	return s, nil
}

// specFlags names the flags that give each render.Spec input, so library
// errors (in product terms) say which flag to change.
var specFlags = map[render.Field]string{
	render.FieldID: "--id", render.FieldServer: "--server", render.FieldPhase: "--phase", render.FieldMode: "--mode",
	render.FieldListen: "--listen", render.FieldServerCert: "--cert", render.FieldServerKey: "--key",
	render.FieldCAFile: "--ca-file", render.FieldHostname: "--hostname", render.FieldHostCA: "--host-ca",
	render.FieldClientCert: "--client-cert", render.FieldUpstream: "--upstream", render.FieldAccessLog: "--access-log",
	render.FieldConfDir: "--conf-dir", render.FieldRuntimeDir: "--runtime-dir or --out", render.FieldStandalone: "--standalone",
	render.FieldNamespace: "--namespace", render.FieldIngressBackend: "--ingress-backend", render.FieldTLSSecret: "--tls-secret",
}

// specError is a bad-input error (exit 2) listing every invalid input of
// a spec, each with the flag that gives it.
func specError(err error) error {
	fes := render.FieldErrors(err)
	if len(fes) == 0 {
		return asUsage(err)
	}
	var b strings.Builder
	if slices.ContainsFunc(fes, func(fe *render.FieldError) bool {
		return fe.Value == "" && (fe.Field == render.FieldServer || fe.Field == render.FieldPhase)
	}) {
		b.WriteString("--server and --phase are required (e.g. --server nginx --phase soft); ")
	}
	if len(fes) > 1 {
		fmt.Fprintf(&b, "%d inputs are missing or invalid:", len(fes))
	}
	for _, fe := range fes {
		if len(fes) > 1 {
			b.WriteString("\n  - ")
		}
		if flag := specFlags[fe.Field]; flag != "" {
			b.WriteString(flag + ": ")
		}
		b.WriteString(fe.Error())
	}
	return asUsage(mappedError{msg: b.String(), err: err})
}

// mappedError rewords err for the command line and keeps its chain.
type mappedError struct {
	msg string
	err error
}

func (e mappedError) Error() string { return e.msg }
func (e mappedError) Unwrap() error { return e.err }

func runOriginRender(cmd *cobra.Command, f originRenderFlags) error {
	spec, err := f.spec()
	if err != nil {
		return err
	}
	renderFn := render.Render
	if f.standalone {
		renderFn = render.Standalone
	}
	out, err := renderFn(spec)
	if err != nil {
		// Every render error is about the input: say so with exit code 2.
		return specError(err)
	}
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	for _, n := range out.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	if f.out == "" {
		for _, file := range out.Files {
			kind := ""
			if file.Block {
				kind = " (managed block: merge into this file)"
			}
			fmt.Fprintf(stdout, "==> %s%s <==\n%s", file.Path, kind, file.Content)
		}
		return nil
	}
	dir, err := absPath(f.out)
	if err != nil {
		return asUsage(err)
	}
	var errs []error
	for _, file := range out.Files {
		target := outPath(dir, file.Path, spec.ConfDir, spec.RuntimeDir)
		if err := file.WriteTo(target); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "wrote %s\n", target)
	}
	return errors.Join(errs...)
}

// outPath maps a rendered path into the --out directory: relative to the
// config or runtime dir it belongs to (when --conf-dir points elsewhere,
// e.g. staging files for /etc/nginx), else by its base name.
func outPath(out, path string, roots ...string) string {
	for _, root := range roots {
		if root == "" {
			continue
		}
		if rel, err := filepath.Rel(root, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.Join(out, rel)
		}
	}
	return filepath.Join(out, filepath.Base(path))
}
