package steps

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki"
)

// Problem is one invalid or missing input. Field names the input in
// product terms ("zone", "hostnames"); cmd maps it to its flag.
type Problem struct {
	Field   string
	Missing bool
	Err     error
}

func (p Problem) Error() string { return p.Field + ": " + p.Err.Error() }

// Validate checks every input that needs no network and returns every
// problem at once, so an operator fixes them all in one go. It also
// normalises names (lower-case, de-duplicated) and fills defaults.
func (in *Inputs) Validate() []Problem {
	var ps []Problem
	missing := func(field, why string) {
		ps = append(ps, Problem{Field: field, Missing: true, Err: errors.New(why)})
	}
	bad := func(field string, err error) { ps = append(ps, Problem{Field: field, Err: err}) }

	if in.Zone == "" {
		missing("zone", "the zone (domain) to set up is required")
	} else if err := pki.ValidateDomain(in.Zone); err != nil {
		bad("zone", err)
	} else {
		in.Zone = pki.NormalizeName(in.Zone)
	}
	if in.Mode == "" {
		missing("mode", "the mode is required: global, zone or hostname")
	} else if _, err := ParseMode(string(in.Mode)); err != nil {
		bad("mode", err)
	}

	given := len(in.Hostnames)
	seen := map[string]bool{}
	var hosts []string
	for _, h := range in.Hostnames {
		if err := pki.ValidateHostname(h); err != nil {
			bad("hostnames", err)
			continue
		}
		h = pki.NormalizeName(h)
		if in.Zone != "" && !pki.InDomain(h, in.Zone) {
			bad("hostnames", fmt.Errorf("hostname %s is not in zone %s: AOP settings apply to one zone's hostnames only", h, in.Zone))
			continue
		}
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
	}
	in.Hostnames = hosts
	if in.Mode == ModeHostname && given == 0 {
		missing("hostnames", "hostname mode needs at least one hostname")
	}
	if n := len(in.Hostnames); in.Mode == ModeHostname && n > cfapi.MaxHostnameCerts*cfapi.MaxHostnamesPerCert {
		bad("hostnames", fmt.Errorf("%d hostnames need %d certificates, but Cloudflare allows %d per-hostname certificates per zone (%d hostnames each)",
			n, certCount(n), cfapi.MaxHostnameCerts, cfapi.MaxHostnamesPerCert))
	}

	for i, o := range in.Origins {
		addr, err := NormalizeOrigin(o)
		if err != nil {
			bad("origins", err)
			continue
		}
		in.Origins[i] = addr
	}

	switch in.OriginConfig {
	case "":
		in.OriginConfig = OriginApply
	case OriginApply, OriginManual:
	default:
		bad("origin config", fmt.Errorf("%q is neither apply (aopwizard writes the config) nor manual (you write it, aopwizard watches)", in.OriginConfig))
	}
	if in.Server == "" {
		missing("server", "the origin server kind is required (nginx, apache, haproxy, caddy, traefik, envoy, ingress-nginx, builtin)")
	} else if _, err := render.ParseServer(in.Server); err != nil {
		bad("server", err)
	}
	if in.LegacyZoneToggle && in.Mode != ModeHostname && in.Mode != "" {
		bad("legacy zone toggle", fmt.Errorf("the legacy zone toggle goes with hostname mode only (%s mode sets its own level)", in.Mode))
	}
	if in.OriginConfig == OriginManual && len(in.Origins) == 0 {
		missing("origins", "manual origin config needs the origin address(es) to watch")
	}
	if in.OriginConfig == OriginManual && in.WaitOrigin <= 0 {
		missing("wait origin", "manual origin config needs how long to wait for the origin change")
	}
	if t, err := inplace.ParseTarget(in.Origin.Target); err != nil {
		bad("target", err)
	} else if in.Origin.Target = string(t); t == inplace.Existing && in.OriginConfig == OriginManual {
		bad("target", errors.New("the existing site is edited only when aopwizard applies the origin config; with manual origin config you edit it yourself"))
	}
	// An existing site (the default where the server has one) keeps its
	// own certificate.
	if in.NeedsServerCert() && in.Origin.ServerCert == "" {
		missing("server cert", "the origin config needs the origin's own TLS certificate file")
	}
	if in.NeedsServerKey() && in.Origin.ServerKey == "" {
		missing("server key", "the origin config needs the origin's own TLS key file")
	}
	if in.OriginConfig == OriginApply {
		if in.Server == string(render.Builtin) && (in.Origin.Config == "" || in.Origin.TestCmd == "" || in.Origin.ReloadCmd == "") {
			missing("builtin commands", "the builtin origin has no system layout: give its config file, test and reload commands")
		}
		switch render.Server(in.Server) {
		case render.Caddy, render.Traefik, render.Envoy, render.IngressNginx:
			bad("origin config", fmt.Errorf("%s configs cannot be applied by aopwizard; use manual origin config (aopwizard prints the config and watches the origin)", in.Server))
		}
	}
	for field, p := range map[string]*string{
		"server cert": &in.Origin.ServerCert, "server key": &in.Origin.ServerKey, "access log": &in.Origin.AccessLog,
		"conf dir": &in.Origin.ConfDir, "config": &in.Origin.Config, "checkpoint dir": &in.Origin.CheckpointDir,
		"cert dir": &in.CertDir, "import cert": &in.ImportCert, "import key": &in.ImportKey, "import ca": &in.ImportCA,
	} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			bad(field, err)
			continue
		}
		*p = abs
	}

	ps = append(ps, in.validateCert()...)
	if in.AutoRevert && !in.Enforce {
		bad("auto revert", errors.New("reverting automatically only applies when enforcing"))
	}
	if in.Edge.Skip && (in.Edge.Addr != "" || in.Edge.CAFile != "") {
		bad("edge", errors.New("an edge address or CA and skipping the edge check contradict each other: give one or the other"))
	}
	if in.Edge.Addr != "" {
		if host, port, err := net.SplitHostPort(in.Edge.Addr); err != nil || host == "" {
			bad("edge", fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:8443, or [2606:4700::1]:443)", in.Edge.Addr))
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			bad("edge", fmt.Errorf("%q has port %q: give a port from 1 to 65535", in.Edge.Addr, port))
		}
	}
	if in.Edge.CAFile != "" {
		if abs, err := filepath.Abs(in.Edge.CAFile); err != nil {
			bad("edge ca", err)
		} else {
			in.Edge.CAFile = abs
		}
	}
	if in.AlertsEmail != "" {
		if in.Mode == ModeGlobal {
			bad("alerts email", errors.New("Cloudflare has no expiry alert for its global certificate (it rotates it itself)"))
		} else if a, err := mail.ParseAddress(in.AlertsEmail); err != nil || a.Address != in.AlertsEmail {
			bad("alerts email", fmt.Errorf("%q is not a plain email address", in.AlertsEmail))
		}
	}
	return ps
}

func (in *Inputs) validateCert() []Problem {
	var ps []Problem
	imp := in.ImportCert != "" || in.ImportKey != "" || in.ImportCA != ""
	src := in.CertSource
	if src == "" {
		switch {
		case in.Mode == ModeGlobal:
			src = CertCloudflare
		case in.ReuseCert != "":
			src = CertReuse
		case imp:
			src = CertImport
		default:
			src = CertGenerate
		}
	}
	in.CertSource = src
	bad := func(field, format string, a ...any) {
		ps = append(ps, Problem{Field: field, Err: fmt.Errorf(format, a...)})
	}
	switch src {
	case CertCloudflare:
		if in.Mode != ModeGlobal {
			bad("certificate", "Cloudflare's certificate is global mode's; zone and hostname modes need your own")
		}
		if imp || in.ReuseCert != "" {
			bad("certificate", "global mode uses Cloudflare's certificate: there is nothing to import or reuse")
		}
	case CertGenerate:
		if in.CertDir == "" {
			ps = append(ps, Problem{Field: "cert dir", Missing: true, Err: errors.New("generating certificates needs a directory for them")})
		}
		if _, err := pki.ParseKeyType(in.KeyType); err != nil {
			bad("key type", "%v", err)
		}
	case CertImport:
		for f, v := range map[string]string{"import cert": in.ImportCert, "import key": in.ImportKey, "import ca": in.ImportCA} {
			if v == "" {
				ps = append(ps, Problem{Field: f, Missing: true, Err: errors.New("importing needs the client certificate, its key and the CA together")})
			}
		}
		if in.Mode == ModeHostname && len(in.Hostnames) > cfapi.MaxHostnamesPerCert {
			bad("hostnames", "one imported certificate covers at most %d hostnames; split the rollout or generate certificates", cfapi.MaxHostnamesPerCert)
		}
	case CertReuse:
		if in.ImportCA == "" {
			ps = append(ps, Problem{Field: "import ca", Missing: true, Err: errors.New("reusing an uploaded certificate needs the CA file that issued it, for the origin to trust")})
		}
		if in.ImportCert != "" || in.ImportKey != "" {
			bad("certificate", "reuse an uploaded certificate or import one, not both")
		}
		if in.Mode == ModeHostname && len(in.Hostnames) > cfapi.MaxHostnamesPerCert {
			bad("hostnames", "one certificate covers at most %d hostnames", cfapi.MaxHostnamesPerCert)
		}
	}
	if in.Mode == ModeGlobal && src != CertCloudflare {
		bad("certificate", "global mode uses Cloudflare's certificate, not %s", src)
	}
	return ps
}

// NormalizeOrigin checks an IP[:port] origin address and adds port 443.
func NormalizeOrigin(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = strings.Trim(s, "[]"), "443"
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("origin %q is not IP[:port]: give the origin server's address, e.g. 203.0.113.10 or [2001:db8::1]:8443", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("origin %q has an invalid port", s)
	}
	return net.JoinHostPort(host, port), nil
}

// certCount is how many certificates n hostnames need.
func certCount(n int) int {
	return (n + cfapi.MaxHostnamesPerCert - 1) / cfapi.MaxHostnamesPerCert
}

// groups splits hostnames into per-certificate groups of at most 100.
func groups(hosts []string) [][]string {
	var out [][]string
	for len(hosts) > cfapi.MaxHostnamesPerCert {
		out = append(out, hosts[:cfapi.MaxHostnamesPerCert])
		hosts = hosts[cfapi.MaxHostnamesPerCert:]
	}
	return append(out, hosts)
}

// needsServerCert says whether the origin config may be aopwizard's own
// block, which serves the origin's certificate: always in manual mode and
// for servers aopwizard cannot edit in place; with nginx, Apache and
// HAProxy only when that target is asked for (the default target finds the
// site, and asks for the certificate when there is none).
func (in *Inputs) needsServerCert() bool {
	if in.OriginConfig == OriginManual || in.Origin.Target == string(inplace.Managed) {
		return true
	}
	switch render.Server(in.Server) {
	case render.Nginx, render.Apache, render.HAProxy:
		return false
	}
	return true
}
