// Package render writes the origin web-server configuration for
// Authenticated Origin Pulls: a soft phase that accepts every request it
// accepted before and logs the client-certificate verification result in
// the aop1 evidence format, and an enforce phase that requires a client
// certificate chaining to the configured CA bundle.
//
// Every fragment is framed by BeginMarker/EndMarker so that applying it
// again replaces it in place and rolling back removes exactly it (see
// ReplaceBlock and RemoveBlock). The measured behaviour behind each
// template is in docs/origin-servers.md; the Notes of an Output carry the
// caveats an operator has to know for that server and phase.
package render

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"github.com/aopwizard/aopwizard/pki"
)

// Server names a supported origin server.
type Server string

// Supported servers.
const (
	Nginx        Server = "nginx"
	Apache       Server = "apache"
	HAProxy      Server = "haproxy"
	Caddy        Server = "caddy"
	Traefik      Server = "traefik"
	Envoy        Server = "envoy"
	IngressNginx Server = "ingress-nginx"
	Builtin      Server = "builtin"
)

// Servers lists every supported server, in the order help texts show them.
var Servers = []Server{Nginx, Apache, HAProxy, Caddy, Traefik, Envoy, IngressNginx, Builtin}

// Phase is the rollout phase.
type Phase string

// Phases.
const (
	// Soft accepts every request and records the verification result.
	Soft Phase = "soft"
	// Enforce requires a client certificate that chains to the CA bundle.
	Enforce Phase = "enforce"
)

// Mode is the AOP flavour, which decides which CA the origin trusts.
type Mode string

// Modes.
const (
	// Global trusts Cloudflare's shared origin-pull CA (origin/cfca).
	Global Mode = "global"
	// Zone trusts one CA (the zone's uploaded certificate's issuer) for all hosts.
	Zone Mode = "zone"
	// Hostname trusts a separate CA per hostname, selected by SNI.
	Hostname Mode = "hostname"
)

// Host is a hostname the origin serves; CAFile is that hostname's CA bundle
// in hostname mode and empty otherwise.
type Host struct {
	Name   string
	CAFile string
	// ClientCertFile is, in hostname mode, the client certificate
	// Cloudflare presents for this hostname; when set, Render refuses a CA
	// bundle it does not chain to. It is read here only, never rendered.
	ClientCertFile string
}

// Spec describes what to render. Paths must be absolute: servers resolve
// relative paths against directories that differ between layouts.
type Spec struct {
	ID                            string // managed-block id, e.g. the zone "example.com"
	Server                        Server
	Phase                         Phase
	Mode                          Mode
	Listen                        string // "127.0.0.1:18443" or ":443"; empty = ":443"
	ServerCertFile, ServerKeyFile string // the origin's own TLS cert (HAProxy: a combined PEM, key empty)
	// CAFile is the bundle for zone/global mode; it may hold several CAs
	// during a rotation. Global mode defaults it to GlobalCAFileName in
	// ConfDir and renders that file from cfca.PEM().
	CAFile string
	// ClientCertFile is the client certificate Cloudflare presents (the
	// one uploaded, or Cloudflare's own in global mode); when set, Render
	// refuses a CA bundle it does not chain to. Hostname mode sets it per
	// Host instead. It is read here only, never rendered.
	ClientCertFile string
	Hosts          []Host // server_name / SNI list; in hostname mode each has its own CAFile
	Upstream       string // "http://127.0.0.1:8080"; empty = answer 200 "ok verify=…" directly
	// AccessLog is the evidence log (aop1 lines); empty = a per-server
	// default (see Notes). HAProxy cannot write files: its lines go to the
	// global log target.
	AccessLog  string
	RuntimeDir string // Standalone: pid, temp and error-log directory

	// Additions beyond the shared contract.

	// ConfDir is the server's configuration directory; rendered file paths
	// and cross references (HAProxy crt-list, global CA) live under it.
	// Empty = the server's usual one (DefaultConfDir); Standalone uses RuntimeDir.
	ConfDir string
	// CaddyLegacy renders `trusted_ca_cert_file` for Caddy < 2.8 (Debian 12
	// ships 2.6.2) instead of `trust_pool file`.
	CaddyLegacy bool
	// Namespace, IngressBackend ("service:port") and TLSSecret configure the
	// ingress-nginx manifests; empty = "default", "CHANGE-ME:80", "<id>-tls".
	Namespace, IngressBackend, TLSSecret string
}

// File is one file to write.
type File struct {
	Path    string
	Content []byte
	Mode    os.FileMode
	// Block marks Content as a managed block to merge into the existing
	// file at Path with ReplaceBlock (HAProxy's haproxy.cfg), not a whole
	// file: writing it over Path would drop the operator's configuration.
	Block bool
}

// Output is what a renderer produces. Notes are warnings for the operator:
// print them, they explain what a phase does not cover on that server.
type Output struct {
	Files []File
	Notes []string
}

// Write writes every file atomically, creating parent directories (0755:
// unprivileged server workers must be able to traverse them). Block files
// are merged into what is at their path already.
func (o *Output) Write() error {
	for _, f := range o.Files {
		if err := f.WriteTo(f.Path); err != nil {
			return err
		}
	}
	return nil
}

// MaxConfigFile caps a server config file read (to merge a block into it,
// or by origin/server and origin/apply): far above any real one, and a
// wrong path (a device, a huge log) cannot exhaust memory.
const MaxConfigFile = 16 << 20

// WriteTo writes the file atomically at path (which may differ from f.Path,
// e.g. under a staging directory), merging a Block into the existing file.
func (f File) WriteTo(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	content, mode := f.Content, f.Mode
	if f.Block {
		existing, err := pki.ReadRegular(path, MaxConfigFile, "config file")
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s to merge the managed block: %w", path, err)
		}
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm() // keep the operator's permissions
		}
		id, err := blockID(f.Content)
		if err != nil {
			return fmt.Errorf("merge into %s: %w", path, err)
		}
		if content, err = ReplaceBlock(existing, id, f.Content); err != nil {
			return fmt.Errorf("merge into %s: %w", path, err)
		}
	}
	if err := renameio.WriteFile(path, content, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// blockID reads the id from a block's begin marker.
func blockID(block []byte) (string, error) {
	first, _, _ := strings.Cut(string(block), "\n")
	id, ok := strings.CutPrefix(strings.TrimSpace(first), BeginMarker(""))
	if !ok || id == "" {
		return "", fmt.Errorf("%w: a managed block must start with %q", ErrMarkers, BeginMarker("<id>"))
	}
	return id, nil
}

// GlobalCAFileName is the file, in ConfDir, that global mode writes
// Cloudflare's origin-pull CA to when Spec.CAFile is empty.
const GlobalCAFileName = "aopwizard-cloudflare-origin-pull-ca.pem"

// VerifyDepth is the chain depth every renderer sets: leaf + CA, plus one
// intermediate (nginx's default of 1 would reject a chain through an
// intermediate).
const VerifyDepth = 2

// DefaultConfDir returns the configuration directory of a server's usual
// (Debian) layout.
func DefaultConfDir(s Server) string {
	switch s {
	case Apache:
		return "/etc/apache2"
	case IngressNginx, Builtin:
		return "/etc/aopwizard"
	}
	return "/etc/" + string(s)
}

// DefaultAccessLog is where the evidence log goes when Spec.AccessLog is
// empty (also for an in-place edit of the operator's site).
func DefaultAccessLog(s Server, id string) string { return defaultAccessLog(s, id) }

// defaultAccessLog is where the evidence log goes when Spec.AccessLog is empty.
func defaultAccessLog(s Server, id string) string {
	switch s {
	case Apache:
		return "/var/log/apache2/aopwizard-" + id + ".log"
	case Builtin:
		return "/var/log/aopwizard/builtin-" + id + ".log"
	}
	return "/var/log/" + string(s) + "/aopwizard-" + id + ".log"
}

// ParseServer, ParsePhase and ParseMode turn user input into the typed values.
func ParseServer(s string) (Server, error) {
	v := Server(strings.ToLower(s))
	if !slices.Contains(Servers, v) {
		return "", fmt.Errorf("server %q is not supported; use one of %s", s, joinServers())
	}
	return v, nil
}

// ParsePhase parses "soft" or "enforce".
func ParsePhase(s string) (Phase, error) {
	switch v := Phase(strings.ToLower(s)); v {
	case Soft, Enforce:
		return v, nil
	}
	return "", fmt.Errorf("phase %q is unknown; use soft (accept all, log the result) or enforce (require the certificate)", s)
}

// ParseMode parses "global", "zone" or "hostname".
func ParseMode(s string) (Mode, error) {
	switch v := Mode(strings.ToLower(s)); v {
	case Global, Zone, Hostname:
		return v, nil
	}
	return "", fmt.Errorf("mode %q is unknown; use global (Cloudflare's shared CA), zone (one CA for all hosts) or hostname (a CA per hostname)", s)
}

func joinServers() string {
	names := make([]string, len(Servers))
	for i, s := range Servers {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

var (
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	hostRE = regexp.MustCompile(`^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// Kubernetes object names: a DNS-1123 label (namespace, service) or
	// subdomain (secret); a port name is an IANA service name.
	k8sLabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	k8sSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	k8sPortNameRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$`)
)

// Validate checks the spec as Render would use it and returns every
// missing or invalid input at once, as FieldErrors joined with
// errors.Join. It reads the CA bundles (and the client certificates) that
// exist on this machine, as Render does.
func (s Spec) Validate() error {
	_, err := s.resolve(false)
	return err
}

// resolved is a validated spec with defaults filled in and the parts the
// templates need precomputed.
type resolved struct {
	Spec
	listenHost, listenPort string
	upstream               *url.URL
	globalCA               bool     // CAFile defaulted: render cfca.PEM() into it
	caNotes                []string // CA bundle warnings, for Output.Notes
}

func (s Spec) resolve(standalone bool) (*resolved, error) {
	r := &resolved{Spec: s}
	r.Hosts = slices.Clone(s.Hosts)
	var errs fieldErrs
	r.resolveKinds(&errs, standalone)
	if standalone && slices.Contains([]Server{Nginx, Apache, HAProxy, Builtin}, s.Server) {
		switch {
		case s.RuntimeDir == "":
			errs.add(FieldRuntimeDir, "", "is missing: the standalone config keeps its pid file, temp files and error log there", "give a directory for them, e.g. the output directory")
		case !filepath.IsAbs(s.RuntimeDir):
			errs.add(FieldRuntimeDir, s.RuntimeDir, "must be an absolute path: the server resolves relative paths against its own directory", "give an absolute path")
		default:
			if r.ConfDir == "" {
				r.ConfDir = s.RuntimeDir
			}
			if r.AccessLog == "" {
				r.AccessLog = filepath.Join(s.RuntimeDir, "access.log")
			}
		}
	}
	if r.ConfDir == "" {
		r.ConfDir = DefaultConfDir(s.Server)
	}
	if r.AccessLog == "" && idRE.MatchString(s.ID) {
		r.AccessLog = defaultAccessLog(s.Server, s.ID)
	}
	if r.Listen == "" {
		r.Listen = ":443"
	}
	switch {
	case s.ID == "":
		errs.add(FieldID, "", "is missing: it names the managed block that re-rendering replaces and rollback removes", "give an id (the zone name, e.g. example.com) or at least one hostname")
	case !idRE.MatchString(s.ID):
		errs.add(FieldID, s.ID, "is not usable as a managed-block id", "use 1-63 letters, digits, dots, dashes or underscores, e.g. the zone name")
	}
	r.resolveListen(&errs)
	r.resolveFiles(&errs, standalone)
	r.resolveHosts(&errs)
	r.resolveUpstream(&errs)
	if s.Server == IngressNginx {
		r.resolveIngress(&errs)
	}
	r.checkCABundles(&errs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *resolved) resolveKinds(errs *fieldErrs, standalone bool) {
	if r.Server == "" {
		errs.add(FieldServer, "", "is missing: the configuration syntax depends on it", "choose one of "+joinServers())
	} else if _, err := ParseServer(string(r.Server)); err != nil {
		errs.add(FieldServer, string(r.Server), "is not supported", "use one of "+joinServers())
	} else if standalone && !slices.Contains([]Server{Nginx, Apache, HAProxy, Builtin}, r.Server) {
		errs.add(FieldStandalone, "", "exists for nginx, apache, haproxy and builtin, not "+string(r.Server), "render the fragment for the server's own configuration instead")
	}
	switch r.Phase {
	case Soft, Enforce:
	case "":
		errs.add(FieldPhase, "", "is missing: it decides whether requests without a valid client certificate are still served", "choose soft (accept all, log the result) or enforce (require the certificate)")
	default:
		errs.add(FieldPhase, string(r.Phase), "is unknown", "use soft (accept all, log the result) or enforce (require the certificate)")
	}
	switch r.Mode {
	case Global, Zone, Hostname:
	case "":
		errs.add(FieldMode, "", "is missing: it decides which CA the origin trusts", "use global, zone or hostname")
	default:
		errs.add(FieldMode, string(r.Mode), "is unknown", "use global (Cloudflare's shared CA), zone (one CA for all hosts) or hostname (a CA per hostname)")
	}
}

func (r *resolved) resolveListen(errs *fieldErrs) {
	listen := r.Listen
	if !strings.Contains(listen, ":") {
		listen = ":" + listen
	}
	const remedy = "give [IP]:port, e.g. :443 or 127.0.0.1:18443"
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		errs.add(FieldListen, r.Listen, "is not [host]:port", remedy)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs.add(FieldListen, r.Listen, "has no valid port (1-65535)", remedy)
		return
	}
	if host != "" && net.ParseIP(host) == nil {
		errs.add(FieldListen, r.Listen, "must use an IP address, not a name: servers bind before DNS is trustworthy", remedy)
		return
	}
	r.listenHost, r.listenPort = host, port
}

// pathInput is one path input and how the rendered files use it.
type pathInput struct {
	field            Field
	value            string
	why              string // why it is needed, for a missing value
	include, crtList bool
}

func (r *resolved) resolveFiles(errs *fieldErrs, standalone bool) {
	if r.Server == HAProxy && r.ServerKeyFile != "" && r.ServerKeyFile != r.ServerCertFile && r.ServerKeyFile != r.ServerCertFile+".key" {
		errs.add(FieldServerKey, r.ServerKeyFile, "cannot be read by HAProxy, which takes the key from the certificate file or from <certificate>.key",
			"concatenate certificate and key into one PEM (cat cert key > combined.pem, mode 0600) and give it as the server certificate, with no separate key")
	}
	switch r.Mode {
	case Global:
		if r.CAFile == "" {
			r.CAFile = filepath.Join(r.ConfDir, GlobalCAFileName)
			r.globalCA = true
		}
	case Zone:
		if r.CAFile == "" {
			errs.add(FieldCAFile, "", "is missing: zone mode needs the CA bundle file (the CA of the client certificate uploaded to Cloudflare)", "give the CA bundle file")
		}
	case Hostname:
		if r.CAFile != "" {
			errs.add(FieldCAFile, r.CAFile, "is shared, but hostname mode takes one CA bundle per hostname", "give each hostname its CA bundle, or use zone mode")
		}
		if r.ClientCertFile != "" {
			errs.add(FieldClientCert, r.ClientCertFile, "is shared, but in hostname mode each hostname has its own client certificate", "give each hostname its client certificate, or use zone mode")
		}
	}
	hostnameCrtList := r.Server == HAProxy && r.Mode == Hostname
	inputs := []pathInput{
		{field: FieldAccessLog, value: r.AccessLog},
		{field: FieldConfDir, value: r.ConfDir, include: standalone && (r.Server == Nginx || r.Server == Apache)},
	}
	if standalone {
		inputs = append(inputs, pathInput{field: FieldRuntimeDir, value: r.RuntimeDir})
	}
	if r.Server != IngressNginx {
		// ingress-nginx takes the server certificate from a Kubernetes TLS secret.
		inputs = append(inputs, pathInput{field: FieldServerCert, value: r.ServerCertFile, crtList: hostnameCrtList,
			why: "the server presents it to Cloudflare in the TLS handshake"})
		// Whether a key is needed depends on the server: HAProxy's is in the certificate file.
		if _, err := ParseServer(string(r.Server)); (err == nil && r.Server != HAProxy) || r.ServerKeyFile != "" {
			inputs = append(inputs, pathInput{field: FieldServerKey, value: r.ServerKeyFile, why: "the server needs the private key of its certificate"})
		}
	}
	if r.CAFile != "" {
		inputs = append(inputs, pathInput{field: FieldCAFile, value: r.CAFile})
	}
	for _, h := range r.Hosts {
		if r.Mode == Hostname && h.CAFile != "" {
			inputs = append(inputs, pathInput{field: FieldHostCA, value: h.CAFile, crtList: hostnameCrtList})
		}
	}
	for _, in := range inputs {
		switch {
		case in.value == "" && in.why != "":
			errs.add(in.field, "", "is missing: "+in.why, "give the file's path")
		case in.value == "":
			// Defaults that could not be computed: the cause is reported on its own.
		case !filepath.IsAbs(in.value):
			errs.add(in.field, in.value, "must be an absolute path: servers resolve relative paths against their own directories", "give an absolute path")
		default:
			r.checkPath(errs, in.field, in.value, in.include, in.crtList)
		}
	}
}

func (r *resolved) resolveHosts(errs *fieldErrs) {
	seen := map[string]bool{}
	for i, h := range r.Hosts {
		name := strings.TrimSuffix(strings.ToLower(h.Name), ".")
		if !hostRE.MatchString(name) || len(name) > 253 {
			errs.add(FieldHostname, h.Name, "is not a valid DNS name", "use letters, digits, dashes and dots, with an optional leading *.")
			continue
		}
		if seen[name] {
			errs.add(FieldHostname, name, "is listed twice", "list each hostname once")
			continue
		}
		seen[name] = true
		r.Hosts[i].Name = name
		switch {
		case r.Mode == Hostname && h.CAFile == "":
			errs.add(FieldHostCA, "", "of hostname "+name+" is missing: hostname mode verifies each hostname against its own CA", "give each hostname its CA bundle")
		case r.Mode != Hostname && h.CAFile != "":
			errs.add(FieldHostCA, h.CAFile, "of hostname "+name+" is only used in hostname mode", "use hostname mode, or drop the per-hostname CA bundle")
		case r.Mode != Hostname && h.ClientCertFile != "":
			errs.add(FieldClientCert, h.ClientCertFile, "of hostname "+name+" is only used in hostname mode", "use hostname mode, or give one client certificate for all hostnames")
		}
	}
	if r.Mode == Hostname && len(r.Hosts) == 0 {
		errs.add(FieldHostname, "", "is missing: hostname mode needs at least one hostname with its CA bundle", "give the hostnames and their CA bundles")
	}
	slices.SortFunc(r.Hosts, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
}

func (r *resolved) resolveUpstream(errs *fieldErrs) {
	if r.Upstream == "" {
		return
	}
	u, err := url.Parse(r.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		errs.add(FieldUpstream, r.Upstream, "must be http(s)://host:port with no path: the soft-phase fallback passes the request URI through unchanged", "give only the scheme, host and port")
		return
	}
	host := u.Hostname()
	if net.ParseIP(host) == nil && !hostRE.MatchString(strings.ToLower(host)) || strings.HasPrefix(host, "*") {
		errs.add(FieldUpstream, r.Upstream, "has a host that is neither an IP address nor a DNS name", "give the upstream's IP address or DNS name")
		return
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			errs.add(FieldUpstream, r.Upstream, "has no valid port (1-65535)", "give the upstream's port")
			return
		}
	}
	u.Path = ""
	r.upstream = u
}

// resolveIngress checks the names that go into the Kubernetes manifests:
// Kubernetes refuses others, and YAML must not be able to read them as
// anything but a name.
func (r *resolved) resolveIngress(errs *fieldErrs) {
	if r.Namespace != "" && !k8sLabelRE.MatchString(r.Namespace) {
		errs.add(FieldNamespace, r.Namespace, "is not a Kubernetes namespace name", "use lower-case letters, digits and dashes (at most 63)")
	}
	if r.TLSSecret != "" && (!k8sSubdomainRE.MatchString(r.TLSSecret) || len(r.TLSSecret) > 253) {
		errs.add(FieldTLSSecret, r.TLSSecret, "is not a Kubernetes secret name", "use lower-case letters, digits, dashes and dots")
	}
	if r.IngressBackend != "" {
		svc, port, ok := strings.Cut(r.IngressBackend, ":")
		n, nerr := strconv.Atoi(port)
		switch {
		case !ok || !k8sLabelRE.MatchString(svc):
			errs.add(FieldIngressBackend, r.IngressBackend, "must be service:port with a Kubernetes service name", "give the backend service as name:port, e.g. web:80")
		case nerr == nil && (n < 1 || n > 65535):
			errs.add(FieldIngressBackend, r.IngressBackend, "has no valid port (1-65535)", "give the service port as a number or a port name")
		case nerr != nil && (!k8sPortNameRE.MatchString(port) || !strings.ContainsAny(port, "abcdefghijklmnopqrstuvwxyz")):
			errs.add(FieldIngressBackend, r.IngressBackend, "has a port that is neither a number nor a port name", "give the service port as a number or a port name")
		}
	}
}

// checkCABundles reads every CA bundle the rendered files name and checks
// it with pki.CheckCABundle: a client certificate given as the bundle
// (CA:FALSE) makes the enforce phase reject every request, an outage. A
// bundle that is not on this machine is noted, not refused: render may be
// writing a configuration for another host (apply's config test then
// catches a missing file).
func (r *resolved) checkCABundles(errs *fieldErrs) {
	type bundle struct {
		field        Field
		path, client string
		clientField  Field
		data         []byte
	}
	var bundles []bundle
	switch {
	case r.globalCA:
		bundles = append(bundles, bundle{field: FieldCAFile, path: r.CAFile, data: globalCAPEM(), client: r.ClientCertFile})
	case r.Mode == Hostname:
		for _, h := range r.Hosts {
			bundles = append(bundles, bundle{field: FieldHostCA, path: h.CAFile, client: h.ClientCertFile})
		}
	default:
		bundles = append(bundles, bundle{field: FieldCAFile, path: r.CAFile, client: r.ClientCertFile})
	}
	now := time.Now()
	for _, b := range bundles {
		if b.data == nil && (!filepath.IsAbs(b.path) || hasControl(b.path)) {
			continue // resolveFiles reported it
		}
		if b.data == nil {
			data, _, err := pki.ReadCABundle(b.path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				r.caNotes = append(r.caNotes, fmt.Sprintf("%s %s is not on this machine, so it was not checked: make sure it holds only the CA certificates that issued the client certificate", b.field, b.path))
				if b.client != "" {
					errs.add(FieldClientCert, b.client, "cannot be checked against the CA bundle "+b.path+", which is not on this machine", "create the CA bundle first, or render on the machine that has it")
				}
				continue
			case err != nil:
				errs.wrap(b.field, "", err) // err names the file
				continue
			}
			b.data = data
		}
		var client *x509.Certificate
		var chain []*x509.Certificate
		if b.client != "" {
			if !filepath.IsAbs(b.client) {
				errs.add(FieldClientCert, b.client, "must be an absolute path", "give an absolute path")
				continue
			}
			certs, err := pki.ReadClientChain(b.client)
			if err != nil {
				errs.wrap(FieldClientCert, "", err) // err names the file
				continue
			}
			client, chain = certs[0], certs[1:]
		}
		warnings, err := pki.CheckCABundle(b.data, client, now, chain...)
		for _, w := range warnings {
			r.caNotes = append(r.caNotes, fmt.Sprintf("%s %s: %s", b.field, b.path, w))
		}
		if err != nil {
			field, value := b.field, b.path
			if errors.Is(err, pki.ErrClientNotTrusted) && !errors.Is(err, pki.ErrCABundle) {
				field, value = FieldClientCert, b.client
			}
			errs.wrap(field, value, err)
		}
	}
}

// hostNames returns the sorted hostnames.
func (r *resolved) hostNames() []string {
	names := make([]string, len(r.Hosts))
	for i, h := range r.Hosts {
		names[i] = h.Name
	}
	return names
}

// vhost is one server block / vhost / filter chain: the hostnames it serves
// and the CA bundle that verifies their clients.
type vhost struct {
	names  []string
	caFile string
}

// vhosts groups the hosts as the templates emit them: one entry per hostname
// in hostname mode, one shared entry otherwise.
func (r *resolved) vhosts() []vhost {
	if r.Mode != Hostname {
		return []vhost{{names: r.hostNames(), caFile: r.CAFile}}
	}
	v := make([]vhost, len(r.Hosts))
	for i, h := range r.Hosts {
		v[i] = vhost{names: []string{h.Name}, caFile: h.CAFile}
	}
	return v
}

func (r *resolved) path(name string) string { return filepath.Join(r.ConfDir, name) }

// listenAddr is host:port with IPv6 brackets, or the bare port for all addresses.
func (r *resolved) listenAddr() string {
	if r.listenHost == "" {
		return r.listenPort
	}
	return net.JoinHostPort(r.listenHost, r.listenPort)
}

func (r *resolved) soft() bool { return r.Phase == Soft }

// pick returns the soft or the enforce variant of a directive value.
func (r *resolved) pick(soft, enforce string) string {
	if r.soft() {
		return soft
	}
	return enforce
}

// begin starts a fragment: the begin marker and the header comment.
func (r *resolved) begin() *strings.Builder {
	b := &strings.Builder{}
	b.WriteString(BeginMarker(r.ID) + "\n")
	b.WriteString(r.header("#"))
	return b
}

// header is the comment under the begin marker of every fragment.
func (r *resolved) header(comment string) string {
	return fmt.Sprintf("%s Rendered by aopwizard: %s, %s phase, %s mode. Edit the spec and re-render instead of editing\n%s inside the markers: re-applying replaces this block, rolling back removes it.\n",
		comment, r.Server, r.Phase, r.Mode, comment)
}

// Render returns the configuration fragment(s) for the server's own layout.
// Like Validate, it refuses a spec with bad inputs (every one of them, as
// FieldErrors) and checks the CA bundles that exist on this machine.
func Render(spec Spec) (*Output, error) { return run(spec, false) }

// Standalone returns a complete main configuration around the fragment, for
// tests, demos and hosts without the distribution layout (nginx, apache,
// haproxy, builtin). Files[0] is the main configuration; every path is
// under RuntimeDir unless the spec names another ConfDir.
func Standalone(spec Spec) (*Output, error) { return run(spec, true) }

func run(spec Spec, standalone bool) (*Output, error) {
	what := "render"
	if standalone {
		what = "render standalone"
	}
	r, err := spec.resolve(standalone)
	if err != nil {
		return nil, fmt.Errorf("%s %s config: %w", what, spec.Server, err)
	}
	out, err := r.output(standalone)
	if err != nil {
		return nil, fmt.Errorf("%s %s config: %w", what, spec.Server, err)
	}
	r.addCommon(out)
	return out, nil
}

// output dispatches to the server's renderer; resolve has already refused
// standalone for servers without one.
func (r *resolved) output(standalone bool) (*Output, error) {
	switch r.Server {
	case Nginx:
		if standalone {
			return r.nginxStandalone(), nil
		}
		return r.nginx(false), nil
	case Apache:
		if standalone {
			return r.apacheStandalone(), nil
		}
		return r.apache(false), nil
	case HAProxy:
		if standalone {
			return r.haproxyStandalone(), nil
		}
		return r.haproxy(false), nil
	case Caddy:
		return r.caddy(), nil
	case Traefik:
		return r.traefik(), nil
	case Envoy:
		return r.envoy(), nil
	case IngressNginx:
		return r.ingress()
	}
	if standalone {
		return r.builtin(filepath.Join(r.RuntimeDir, "builtin.json")), nil
	}
	return r.builtin(r.path("builtin-" + r.ID + ".json")), nil
}

// addCommon appends what every server shares: the global CA file and the
// notes about the mode.
func (r *resolved) addCommon(out *Output) {
	// CA bundle warnings first: they can mean an outage.
	out.Notes = append(slices.Clone(r.caNotes), out.Notes...)
	if r.globalCA && r.Server != IngressNginx { // ingress-nginx embeds it in the Secret
		out.Files = append(out.Files, File{Path: r.CAFile, Content: globalCAPEM(), Mode: 0o644})
	}
	if r.globalCA {
		out.Notes = append(out.Notes, fmt.Sprintf("global mode: %s holds Cloudflare's shared origin-pull CA; every Cloudflare customer's traffic carries a certificate from it, so it proves the request came through Cloudflare, not through your zone — prefer zone or hostname mode", r.CAFile))
	}
	if r.Mode == Hostname {
		out.Notes = append(out.Notes, "hostname mode selects the CA by SNI: requests whose Host differs from the SNI are refused with 421 so one hostname cannot borrow another's verification")
	}
	switch {
	case !r.soft():
	case r.Server == Caddy || r.Server == Traefik:
		// Their notes explain why the phase proves nothing by itself.
	case r.Server == IngressNginx:
		out.Notes = append(out.Notes, "soft phase: nothing is rejected yet (except expired certificates, see above); check the controller's log shows SUCCESS for Cloudflare's requests before enforcing")
	default:
		where := r.AccessLog
		if r.Server == HAProxy {
			where = "HAProxy's log target"
		}
		out.Notes = append(out.Notes, fmt.Sprintf("soft phase: nothing is rejected yet; the verification result of each request goes to %s (aop1 lines) — check it shows SUCCESS for Cloudflare's requests before enforcing", where))
	}
}

// WriteCABundle writes the concatenation of the given PEM certificates (for
// example the old and the new CA during a rotation) atomically to path,
// after checking that each holds at least one CA certificate.
func WriteCABundle(path string, pems ...[]byte) error {
	bundle, err := CABundle(pems...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for CA bundle: %w", err)
	}
	if err := renameio.WriteFile(path, bundle, 0o644); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}
	return nil
}
