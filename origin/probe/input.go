package probe

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/pki"
)

// Input names a value a probe takes from its user, so a front end can
// point at the field or flag that holds it.
type Input string

// The inputs Target.Validate, ParseOrigin and the certificate loaders check.
const (
	InputOrigin     Input = "origin address"
	InputSNI        Input = "server name (SNI)"
	InputHost       Input = "Host header"
	InputPath       Input = "request path"
	InputTimeout    Input = "timeout"
	InputTLSVersion Input = "highest TLS version"
	InputClientCert Input = "client certificate"
	InputCA         Input = "client CA"
)

// InputError is an unusable input: which one, why, and what to do.
type InputError struct {
	Input  Input
	Value  string
	Reason string
	Remedy string
	Err    error // the underlying error, if any
}

func (e *InputError) Error() string {
	msg := fmt.Sprintf("%s %q %s", e.Input, e.Value, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Remedy != "" {
		msg += "; " + e.Remedy
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

// DefaultPort is the port of an origin address given without one.
const DefaultPort = "443"

// ParseOrigin turns an origin address as users write it into the
// "host:port" a Target dials: "203.0.113.10", "203.0.113.10:8443",
// "origin.example", "[2001:db8::1]:8443", or a bare IPv6 address, which is
// taken as the host alone (port 443). A bare IPv6 address whose last group
// reads like a port ("::1:443") is refused as ambiguous: brackets say
// which is meant.
func ParseOrigin(s string) (string, error) {
	bad := func(reason, remedy string) error {
		return &InputError{Input: InputOrigin, Value: s, Reason: reason, Remedy: remedy}
	}
	const example = "give an IP address and optional port, e.g. 203.0.113.10:443 or [2001:db8::1]:443"
	if s == "" {
		return "", bad("is empty", example)
	}
	if strings.ContainsFunc(s, isSpaceOrControl) || strings.ContainsAny(s, "/?#@") {
		return "", bad("is not an address", example)
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Is6() && ambiguousPort(s) {
			i := strings.LastIndexByte(s, ':')
			return "", bad("is ambiguous (an IPv6 address and a port, or only an address)",
				fmt.Sprintf("put the address in brackets: [%s]:%s for that port, or [%s] for port %s", s[:i], s[i+1:], s, DefaultPort))
		}
		return net.JoinHostPort(s, DefaultPort), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			host, port = s[1:len(s)-1], DefaultPort
		} else if strings.Contains(s, ":") {
			return "", bad("is not an address", example)
		} else {
			host, port = s, DefaultPort
		}
	}
	if err := checkPort(port); err != nil {
		return "", bad(err.Error(), "give a port from 1 to 65535, or none for "+DefaultPort)
	}
	if err := checkOriginHost(host, strings.HasPrefix(s, "[")); err != nil {
		return "", bad(err.Error(), example)
	}
	return net.JoinHostPort(host, port), nil
}

// ambiguousPort reports whether a bare IPv6 address ends in a group of
// 2 to 5 decimal digits that, removed, still leaves an IPv6 address.
func ambiguousPort(s string) bool {
	i := strings.LastIndexByte(s, ':')
	last := s[i+1:]
	if len(last) < 2 || len(last) > 5 || strings.ContainsFunc(last, func(r rune) bool { return r < '0' || r > '9' }) {
		return false
	}
	_, err := netip.ParseAddr(s[:i])
	return err == nil
}

func checkPort(port string) error {
	n, err := strconv.Atoi(port)
	switch {
	case port == "":
		return fmt.Errorf("has an empty port")
	case err != nil || strings.HasPrefix(port, "+"):
		return fmt.Errorf("has port %q, which is not a number", port)
	case n < 1 || n > 65535:
		return fmt.Errorf("has port %d, outside 1-65535", n)
	}
	return nil
}

// checkOriginHost accepts an IP address (IPv6 only in brackets) or a
// host name made of letters, digits, hyphens and dots.
func checkOriginHost(host string, bracketed bool) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if bracketed != ip.Is6() {
			return fmt.Errorf("has brackets around something other than an IPv6 address")
		}
		return nil
	}
	if bracketed {
		return fmt.Errorf("has brackets around %q, which is not an IPv6 address", host)
	}
	if host == "" || len(host) > 253 || strings.ContainsFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}) {
		return fmt.Errorf("has host %q, which is neither an IP address nor a DNS name", host)
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// Validate reports the first unusable field of t as an *InputError.
// Probe and Run call it, so nothing is sent for a value that would be
// mangled on the wire (a CR/LF in the Host header or path, a space in
// the server name).
func (t Target) Validate() error {
	host, port, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return &InputError{Input: InputOrigin, Value: t.Addr, Reason: "is not host:port", Remedy: "give the origin as IP:PORT, e.g. 203.0.113.10:443"}
	}
	if err := checkPort(port); err != nil {
		return &InputError{Input: InputOrigin, Value: t.Addr, Reason: err.Error(), Remedy: "give a port from 1 to 65535"}
	}
	if err := checkOriginHost(host, strings.Contains(host, ":")); err != nil {
		return &InputError{Input: InputOrigin, Value: t.Addr, Reason: err.Error(), Remedy: "give the origin's IP address"}
	}
	if t.SNI != "" {
		if err := pki.ValidateHostname(t.SNI); err != nil {
			return &InputError{Input: InputSNI, Value: t.SNI, Reason: "is not a DNS name", Err: err,
				Remedy: "give one of the hostnames the origin serves, or none to probe without a server name"}
		}
	}
	if t.Host != "" {
		if err := checkHostHeader(t.Host); err != nil {
			return &InputError{Input: InputHost, Value: t.Host, Reason: err.Error(),
				Remedy: "give a hostname, optionally with :port, e.g. www.example.com"}
		}
	}
	if t.Path != "" {
		if err := checkPath(t.Path); err != nil {
			return &InputError{Input: InputPath, Value: t.Path, Reason: err.Error(),
				Remedy: "give a path starting with /, with spaces and other special characters percent-encoded, e.g. /healthz"}
		}
	}
	if t.Timeout < 0 || t.AlertWait < 0 {
		return &InputError{Input: InputTimeout, Value: fmt.Sprint(min(t.Timeout, t.AlertWait)), Reason: "is negative", Remedy: "give a positive duration, or zero for the default"}
	}
	if t.MaxVersion != 0 && t.MaxVersion != tls.VersionTLS12 && t.MaxVersion != tls.VersionTLS13 {
		return &InputError{Input: InputTLSVersion, Value: tls.VersionName(t.MaxVersion), Reason: "is not supported", Remedy: "use TLS 1.3 or TLS 1.2"}
	}
	return nil
}

// checkHostHeader accepts what an origin's virtual hosts can match: a DNS
// name or IP address (IPv6 in brackets), optionally with a port.
func checkHostHeader(h string) error {
	if strings.ContainsFunc(h, isSpaceOrControl) {
		return fmt.Errorf("contains spaces or control characters")
	}
	host, port := h, ""
	if hh, pp, err := net.SplitHostPort(h); err == nil {
		host, port = hh, pp
		if err := checkPort(port); err != nil {
			return err
		}
	}
	bracketed := port != "" && strings.Contains(host, ":") || strings.HasPrefix(host, "[")
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return checkOriginHost(host, bracketed)
	}
	if err := pki.ValidateHostname(host); err != nil {
		return fmt.Errorf("is not a DNS name (%w)", err)
	}
	return nil
}

// checkPath accepts an origin-form request target: it starts with "/"
// and holds no spaces, control characters, '#' or non-ASCII bytes, which
// would end or corrupt the request line.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("does not start with /")
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return isSpaceOrControl(r) || r == '#' || r > 0x7e }); i >= 0 {
		return fmt.Errorf("contains %q at byte %d", p[i:i+1], i)
	}
	return nil
}
