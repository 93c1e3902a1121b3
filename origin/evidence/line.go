// Package evidence reads the soft-phase access log ("aop1" lines written by
// every origin renderer and the builtin origin) and counts, per hostname,
// how many requests carried a valid client certificate. Seeing SUCCESS for
// the requests Cloudflare forwards is the proof, before enforcing, that the
// edge presents the certificate the origin trusts.
package evidence

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Token starts every evidence line.
const Token = "aop1"

// Verification results, normalised across servers.
const (
	VerifyNone    = "NONE"
	VerifySuccess = "SUCCESS"
	VerifyFailed  = "FAILED"
)

// Entry is one parsed request line.
type Entry struct {
	Time time.Time
	// Hostname is the SNI, else the Host header without port, lower-case;
	// "-" when neither was logged.
	Hostname string
	SNI      string
	Host     string
	Status   int
	// Verify is VerifyNone, VerifySuccess or VerifyFailed.
	Verify string
	// Reason explains a failure: the server's text after "FAILED:",
	// "GENEROUS" (Apache's optional_no_ca for an unknown CA), or HAProxy's
	// X509 error text.
	Reason  string
	FP      string
	Serial  string
	Subject string
	Issuer  string
	// Client is the address the request came from; Ray the CF-Ray header
	// Cloudflare's edge adds to every request it forwards (empty for
	// direct traffic, and in logs written before these fields existed).
	Client string
	Ray    string
}

// ParseLine parses one evidence line. Lines may carry a prefix (syslog's
// "date host haproxy[pid]: "): the first "aop1" token starts the record.
func ParseLine(line string) (Entry, error) {
	line = strings.TrimRight(line, "\r\n")
	start := strings.Index(line, Token+" ")
	if start < 0 || (start > 0 && line[start-1] != ' ') {
		return Entry{}, errors.New("no aop1 token")
	}
	fields, err := splitFields(line[start+len(Token)+1:])
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	t, ok := fields["time"]
	if !ok {
		return Entry{}, errors.New("no time field")
	}
	if e.Time, err = parseTime(t); err != nil {
		return Entry{}, err
	}
	e.SNI, e.Host = value(fields, "sni"), value(fields, "host")
	e.Hostname = hostname(e.SNI, e.Host)
	if s := value(fields, "status"); s != "" {
		if e.Status, err = strconv.Atoi(s); err != nil || e.Status < 0 || e.Status > 999 {
			return Entry{}, fmt.Errorf("status %q is not an HTTP status", s)
		}
	}
	if e.Verify, e.Reason, err = verifyResult(fields); err != nil {
		return Entry{}, err
	}
	e.FP, e.Serial = value(fields, "fp"), value(fields, "serial")
	e.Subject, e.Issuer = value(fields, "subject"), value(fields, "issuer")
	e.Client, e.Ray = value(fields, "client"), value(fields, "ray")
	return e, nil
}

// value returns a field, with "-" (the servers' "missing") as "".
func value(f map[string]string, k string) string {
	v := f[k]
	if v == "-" {
		return ""
	}
	return v
}

func hostname(sni, host string) string {
	h := sni
	if h == "" {
		h = host
		if hp, _, err := net.SplitHostPort(h); err == nil {
			h = hp
		}
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" {
		return "-"
	}
	return h
}

// splitFields splits `k=v k="quoted v" …`. Quoted values may contain
// backslash escapes (Apache writes \", nginx \x22); unquoted ones run to
// the next key=value word.
func splitFields(s string) (map[string]string, error) {
	f := make(map[string]string, 10)
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return f, nil
		}
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexAny(s, " \t")
		if eq <= 0 || (sp >= 0 && sp < eq) {
			return nil, fmt.Errorf("field %q is not key=value", firstWord(s))
		}
		key := s[:eq]
		s = s[eq+1:]
		if strings.HasPrefix(s, `"`) {
			v, rest, err := unquote(s[1:])
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", key, err)
			}
			f[key], s = v, rest
			continue
		}
		v, rest := unquotedValue(s)
		f[key], s = v, rest
	}
}

// unquotedValue reads a value up to the next key=value word. Words without
// "=" continue the value: nginx logs $ssl_client_verify unquoted, and its
// FAILED reasons contain spaces ("FAILED:certificate has expired").
func unquotedValue(s string) (string, string) {
	end := 0
	for {
		sp := strings.IndexAny(s[end:], " \t")
		if sp < 0 {
			return s, ""
		}
		end += sp
		next := strings.TrimLeft(s[end:], " \t")
		word := next
		if i := strings.IndexAny(word, " \t"); i >= 0 {
			word = word[:i]
		}
		if next == "" || strings.Contains(word, "=") {
			return s[:end], s[end:]
		}
		end = len(s) - len(next) + len(word)
	}
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

// unquote reads up to the closing quote and returns the value and the rest.
func unquote(s string) (string, string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 >= len(s) {
				return "", "", errors.New("unterminated escape")
			}
			i++
			switch s[i] {
			case 'x':
				if i+2 < len(s) {
					if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
						b.WriteByte(byte(n))
						i += 2
						continue
					}
				}
				b.WriteString(`\x`)
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("unterminated quoted value")
}

// Time layouts the writers use: nginx $time_iso8601 and the builtin origin
// (RFC 3339), Apache and HAProxy (numeric zone without colon).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil && !t.IsZero() {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not an ISO 8601 timestamp", s)
}

// verifyResult normalises nginx/Apache's verify word and HAProxy's
// used=/verify= numbers.
func verifyResult(f map[string]string) (string, string, error) {
	v := value(f, "verify")
	used, hasUsed := f["used"]
	n, numErr := strconv.Atoi(v)
	if v != "" && numErr == nil {
		// HAProxy: ssl_c_verify is 0 for "no certificate" too, so the
		// used flag decides; without it, a logged certificate does.
		switch {
		case hasUsed && used == "0", !hasUsed && n == 0 && value(f, "fp") == "" && value(f, "subject") == "":
			return VerifyNone, "", nil
		case n == 0:
			return VerifySuccess, "", nil
		}
		return VerifyFailed, X509ErrorText(n), nil
	}
	switch {
	case v == VerifyNone, v == VerifySuccess:
		return v, "", nil
	case v == VerifyFailed, v == VerifyFailed+":":
		return VerifyFailed, "unknown reason", nil
	case strings.HasPrefix(v, VerifyFailed+":"):
		return VerifyFailed, strings.TrimPrefix(v, VerifyFailed+":"), nil
	case v == "GENEROUS":
		return VerifyFailed, "GENEROUS (certificate not verified: unknown CA accepted by optional_no_ca)", nil
	case v == "":
		return "", "", errors.New("no verify result")
	}
	return "", "", fmt.Errorf("verify result %q is not NONE, SUCCESS, FAILED:… or GENEROUS", firstWord(v))
}

// x509Errors are OpenSSL's X509_verify_cert_error_string texts for the
// numbers HAProxy logs (openssl/include/openssl/x509_vfy.h).
var x509Errors = map[int]string{
	2:  "unable to get issuer certificate",
	4:  "unable to decrypt certificate's signature",
	6:  "unable to decode issuer public key",
	7:  "certificate signature failure",
	9:  "certificate is not yet valid",
	10: "certificate has expired",
	13: "format error in certificate's notBefore field",
	14: "format error in certificate's notAfter field",
	18: "self-signed certificate",
	19: "self-signed certificate in certificate chain",
	20: "unable to get local issuer certificate",
	21: "unable to verify the first certificate",
	22: "certificate chain too long",
	23: "certificate revoked",
	24: "invalid CA certificate",
	25: "path length constraint exceeded",
	26: "unsupported certificate purpose",
	27: "certificate not trusted",
	28: "certificate rejected",
	32: "key usage does not include certificate signing",
	50: "application verification failure",
}

// X509ErrorText is OpenSSL's text for an X509 verify error number.
func X509ErrorText(n int) string {
	if s, ok := x509Errors[n]; ok {
		return s
	}
	return "X509 error " + strconv.Itoa(n)
}
