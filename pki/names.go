package pki

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Limits from RFC 1035 §2.3.4, as Cloudflare and every DNS resolver apply them.
const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// ErrInvalidName is wrapped by every error ValidateDomain and ValidateHostname
// return, so callers can tell bad names from other failures.
var ErrInvalidName = errors.New("invalid name")

// ValidateDomain checks that s is a zone's domain as Cloudflare names it:
// lower- or upper-case ASCII letters, digits and hyphens in at least two
// dot-separated labels, no wildcard, no trailing dot. The CA's common name is
// the domain, as in the Cloudflare docs.
func ValidateDomain(s string) error {
	return validateName("domain", s)
}

// ValidateHostname checks that s is a single, exact hostname that per-hostname
// AOP can be associated with: the rules of ValidateDomain, so no underscores
// and no wildcard. Cloudflare associates certificates with exact hostnames,
// and a wildcard would also make the leaf's common name ambiguous.
func ValidateHostname(s string) error {
	return validateName("hostname", s)
}

// NormalizeName lower-cases a name that passed validation: DNS names are
// case-insensitive, and Cloudflare shows and compares them lower-case.
func NormalizeName(s string) string { return strings.ToLower(s) }

// InDomain reports whether hostname is domain itself or a name below it.
func InDomain(hostname, domain string) bool {
	h, d := NormalizeName(hostname), NormalizeName(domain)
	return h == d || strings.HasSuffix(h, "."+d)
}

func validateName(kind, s string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s %q %s", ErrInvalidName, kind, s, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return fmt.Errorf("%w: %s is empty: pass a name such as example.com", ErrInvalidName, kind)
	}
	if i := strings.Index(s, "://"); i >= 0 {
		return bad("is a URL: pass the bare %s, without %s", kind, s[:i+3])
	}
	if strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\r\n") {
		return bad("contains spaces: give each name on its own, without spaces")
	}
	if strings.ContainsAny(s, "/?#@") {
		return bad("contains a path or user part: pass the bare %s, such as example.com", kind)
	}
	if host, port, err := net.SplitHostPort(s); err == nil && port != "" && host != "" {
		return bad("has a port: drop the %q suffix", ":"+port)
	}
	if net.ParseIP(strings.Trim(s, "[]")) != nil {
		return bad("is an IP address: AOP certificates and associations use DNS names, so pass the %s", kind)
	}
	if len(s) > maxNameLen {
		return bad("is %d characters long: DNS names are at most %d", len(s), maxNameLen)
	}
	if strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "..") && len(s) > 1 {
		return bad("ends with a dot: drop the trailing dot")
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return bad("has a single label: pass a fully qualified name such as example.com")
	}
	for i, l := range labels {
		if err := validateLabel(kind, l, i, bad); err != nil {
			return err
		}
	}
	if isNumeric(labels[len(labels)-1]) {
		return bad("ends in an all-numeric label: top-level domains are never numeric")
	}
	return nil
}

func validateLabel(kind, l string, i int, bad func(string, ...any) error) error {
	switch {
	case l == "":
		return bad("has an empty label (two dots in a row, or a leading dot): remove the extra dot")
	case l == "*" && i == 0:
		return bad("is a wildcard: Cloudflare associates exact hostnames, so pass each hostname on its own")
	case len(l) > maxLabelLen:
		return bad("has a label of %d characters: each dot-separated label is at most %d", len(l), maxLabelLen)
	case strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-"):
		return bad("has a label %q that starts or ends with a hyphen: DNS labels cannot", l)
	}
	for _, r := range l {
		switch {
		case r == '_':
			return bad("contains an underscore: a %s may use only letters, digits and hyphens", kind)
		case r == '*':
			return bad("contains a wildcard: pass each exact hostname on its own")
		case r > 0x7f:
			return bad("contains non-ASCII characters: pass the punycode form (xn--…)")
		case !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-'):
			return bad("contains %q: a %s may use only letters, digits, hyphens and dots", r, kind)
		}
	}
	return nil
}

func isNumeric(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
