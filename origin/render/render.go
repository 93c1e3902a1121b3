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
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/renameio/v2"
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
	CAFile   string
	Hosts    []Host // server_name / SNI list; in hostname mode each has its own CAFile
	Upstream string // "http://127.0.0.1:8080"; empty = answer 200 "ok verify=…" directly
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

// WriteTo writes the file atomically at path (which may differ from f.Path,
// e.g. under a staging directory), merging a Block into the existing file.
func (f File) WriteTo(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	content, mode := f.Content, f.Mode
	if f.Block {
		existing, err := os.ReadFile(path)
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
)

// Validate checks the spec as Render would use it and says what to change.
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
	globalCA               bool // CAFile defaulted: render cfca.PEM() into it
}

func (s Spec) resolve(standalone bool) (*resolved, error) {
	r := &resolved{Spec: s}
	r.Hosts = slices.Clone(s.Hosts)
	if _, err := ParseServer(string(s.Server)); err != nil {
		return nil, err
	}
	if s.Phase != Soft && s.Phase != Enforce {
		_, err := ParsePhase(string(s.Phase))
		return nil, err
	}
	if s.Mode != Global && s.Mode != Zone && s.Mode != Hostname {
		_, err := ParseMode(string(s.Mode))
		return nil, err
	}
	if standalone {
		switch s.Server {
		case Nginx, Apache, HAProxy, Builtin:
		default:
			return nil, fmt.Errorf("standalone configs exist for nginx, apache, haproxy and builtin, not %s; render the fragment instead", s.Server)
		}
		if !filepath.IsAbs(s.RuntimeDir) {
			return nil, fmt.Errorf("runtime dir %q must be an absolute path: the standalone config keeps its pid file, temp files and error log there", s.RuntimeDir)
		}
		if r.ConfDir == "" {
			r.ConfDir = s.RuntimeDir
		}
		if r.AccessLog == "" {
			r.AccessLog = filepath.Join(s.RuntimeDir, "access.log")
		}
	}
	if r.ConfDir == "" {
		r.ConfDir = DefaultConfDir(s.Server)
	}
	if r.AccessLog == "" {
		r.AccessLog = defaultAccessLog(s.Server, s.ID)
	}
	if r.Listen == "" {
		r.Listen = ":443"
	}
	if err := r.resolveListen(); err != nil {
		return nil, err
	}
	if err := r.resolveFiles(); err != nil {
		return nil, err
	}
	if err := r.resolveHosts(); err != nil {
		return nil, err
	}
	if !idRE.MatchString(s.ID) {
		return nil, fmt.Errorf("id %q is not usable as a managed-block id: use 1-63 letters, digits, dots, dashes or underscores, e.g. the zone name", s.ID)
	}
	if s.Upstream != "" {
		u, err := url.Parse(s.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("upstream %q must be http(s)://host:port with no path: the soft-phase fallback passes the request URI through unchanged", s.Upstream)
		}
		u.Path = ""
		r.upstream = u
	}
	return r, nil
}

func (r *resolved) resolveListen() error {
	listen := r.Listen
	if !strings.Contains(listen, ":") {
		listen = ":" + listen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen %q is not [host]:port (e.g. :443 or 127.0.0.1:18443): %w", r.Listen, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("listen %q has no valid port (1-65535)", r.Listen)
	}
	if host != "" && net.ParseIP(host) == nil {
		return fmt.Errorf("listen %q must use an IP address, not a name: servers bind before DNS is trustworthy", r.Listen)
	}
	r.listenHost, r.listenPort = host, port
	return nil
}

func (r *resolved) resolveFiles() error {
	abs := map[string]string{"access log": r.AccessLog, "conf dir": r.ConfDir}
	if r.Server != IngressNginx {
		// ingress-nginx takes the server certificate from a Kubernetes TLS secret.
		abs["server certificate"] = r.ServerCertFile
		if r.Server != HAProxy || r.ServerKeyFile != "" {
			abs["server key"] = r.ServerKeyFile
		}
	}
	for _, what := range slices.Sorted(maps.Keys(abs)) {
		if p := abs[what]; !filepath.IsAbs(p) {
			return fmt.Errorf("%s %q must be an absolute path: servers resolve relative paths against their own directories", what, p)
		}
	}
	if r.Server == HAProxy && r.ServerKeyFile != "" && r.ServerKeyFile != r.ServerCertFile && r.ServerKeyFile != r.ServerCertFile+".key" {
		return fmt.Errorf("haproxy reads the key from the certificate file or from <cert>.key, not from %s: concatenate certificate and key into one PEM (cat cert key > combined.pem, mode 0600) and pass it as the certificate with no key", r.ServerKeyFile)
	}
	switch r.Mode {
	case Global:
		if r.CAFile == "" {
			r.CAFile = filepath.Join(r.ConfDir, GlobalCAFileName)
			r.globalCA = true
		}
	case Zone:
		if r.CAFile == "" {
			return fmt.Errorf("zone mode needs the CA bundle file (the CA of the certificate uploaded to Cloudflare); pass it as the CA file")
		}
	case Hostname:
		if r.CAFile != "" {
			return fmt.Errorf("hostname mode takes one CA file per hostname, not a shared one (%s); give each hostname its CA, or use zone mode", r.CAFile)
		}
	}
	if r.CAFile != "" && !filepath.IsAbs(r.CAFile) {
		return fmt.Errorf("CA file %q must be an absolute path", r.CAFile)
	}
	return nil
}

func (r *resolved) resolveHosts() error {
	seen := map[string]bool{}
	for i, h := range r.Hosts {
		name := strings.TrimSuffix(strings.ToLower(h.Name), ".")
		if !hostRE.MatchString(name) || len(name) > 253 {
			return fmt.Errorf("hostname %q is not a valid DNS name (letters, digits, dashes, dots; an optional leading *.)", h.Name)
		}
		if seen[name] {
			return fmt.Errorf("hostname %q is listed twice; list each hostname once", name)
		}
		seen[name] = true
		r.Hosts[i].Name = name
		switch {
		case r.Mode == Hostname && h.CAFile == "":
			return fmt.Errorf("hostname %s has no CA file: hostname mode verifies each hostname against its own CA; give one per hostname", name)
		case r.Mode == Hostname && !filepath.IsAbs(h.CAFile):
			return fmt.Errorf("CA file %q of hostname %s must be an absolute path", h.CAFile, name)
		case r.Mode != Hostname && h.CAFile != "":
			return fmt.Errorf("hostname %s has its own CA file, which only hostname mode uses; use hostname mode or drop the per-host CA", name)
		}
	}
	if r.Mode == Hostname && len(r.Hosts) == 0 {
		return fmt.Errorf("hostname mode needs at least one hostname with its CA file")
	}
	slices.SortFunc(r.Hosts, func(a, b Host) int { return strings.Compare(a.Name, b.Name) })
	return nil
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
