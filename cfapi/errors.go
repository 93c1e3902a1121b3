package cfapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Permission groups, as Cloudflare's token editor names them (the dashboard
// says "Edit" for "Write").
const (
	PermSSLRead            = "SSL and Certificates Read"
	PermSSLWrite           = "SSL and Certificates Write"
	PermZoneSettingsRead   = "Zone Settings Read"
	PermZoneSettingsWrite  = "Zone Settings Write"
	PermZoneRead           = "Zone Read"
	PermNotificationsRead  = "Notifications Read"
	PermNotificationsWrite = "Notifications Write"
)

// Kind classifies an API failure so callers can branch without parsing
// messages. Cloudflare documents no AOP-specific error codes, so kinds come
// from the HTTP status, the general API codes and the message text.
type Kind string

const (
	KindOther              Kind = "other"
	KindPermission         Kind = "permission"          // 10000, 9109 "unauthorized to access requested resource"
	KindCredentialsFormat  Kind = "credentials-format"  // 6003 with 6111/6103
	KindInvalidCredentials Kind = "invalid-credentials" // 1000, 9103, 9106, 401
	KindNotFound           Kind = "not-found"           // 7003, 7000, 404
	KindRateLimited        Kind = "rate-limited"        // 429, 971
	KindServer             Kind = "server"              // 5xx after retries
	KindMissingLeaf        Kind = "missing-leaf"
	KindDuplicate          Kind = "duplicate"
	KindCertLimit          Kind = "certificate-limit" // 10 hostname certificates per zone
	KindHostnameLimit      Kind = "hostname-limit"    // 100 hostnames per certificate
	KindEncryptedKey       Kind = "encrypted-key"
	KindKeyMismatch        Kind = "key-mismatch"
	KindNotHostnameCert    Kind = "not-hostname-cert"  // a zone-level cert_id in an association
	KindCertAssociated     Kind = "certificate-in-use" // delete before voiding the association
	KindDeploymentTimedOut Kind = "deployment-timed-out"
	KindTokenInactive      Kind = "token-inactive"
)

// Limits Cloudflare enforces on per-hostname AOP.
const (
	MaxHostnameCerts         = 10
	MaxHostnamesPerCert      = 100
	maxAssociationsPerUpdate = 100
)

// APIError is a failed Cloudflare call, explained for the operator. It never
// holds credentials: messages echoed by the API are scrubbed of them.
type APIError struct {
	Op         string // what cfapi was doing, e.g. "upload hostname certificate"
	Method     string
	Path       string // path below the base URL, no query
	Status     int    // HTTP status; 0 when no answer arrived
	Codes      []int  // Cloudflare codes, error_chain included, in order
	Messages   []string
	Kind       Kind
	Permission string // the permission group the call needs
	// Explanation says in plain language what went wrong; Remedy what to do.
	Explanation string
	Remedy      string
	// RetryAfter is how long Cloudflare asked to wait (rate limits).
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Kind == KindRateLimited {
		fmt.Fprintf(&b, ": rate limited by Cloudflare: retry after %d s", int(math.Ceil(e.RetryAfter.Seconds())))
	} else if e.Status != 0 {
		fmt.Fprintf(&b, ": cloudflare answered %d %s", e.Status, http.StatusText(e.Status))
	}
	if len(e.Codes) > 0 || len(e.Messages) > 0 {
		b.WriteString(" (")
		for i := range max(len(e.Codes), len(e.Messages)) {
			if i > 0 {
				b.WriteString("; ")
			}
			if i < len(e.Codes) {
				fmt.Fprintf(&b, "code %d", e.Codes[i])
			}
			if i < len(e.Messages) {
				if i < len(e.Codes) {
					b.WriteString(": ")
				}
				b.WriteString(e.Messages[i])
			}
		}
		b.WriteString(")")
	}
	if e.Explanation != "" {
		b.WriteString(": ")
		b.WriteString(e.Explanation)
	}
	if e.Remedy != "" {
		b.WriteString("; ")
		b.WriteString(e.Remedy)
	}
	return b.String()
}

// HasCode reports whether Cloudflare answered with code.
func (e *APIError) HasCode(code int) bool {
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// IsKind reports whether err is, or wraps, an *APIError of kind k.
func IsKind(err error, k Kind) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Kind == k
}

// classify derives the kind from status, codes and messages. AOP failures
// have no documented codes (docs/cloudflare-api.md, "Errors"), so they are
// recognised by the
// message Cloudflare is known to send, or by the operation that failed.
func classify(op *opSpec, status int, codes []int, msgs []string) Kind {
	has := func(want ...int) bool {
		for _, c := range codes {
			for _, w := range want {
				if c == w {
					return true
				}
			}
		}
		return false
	}
	text := strings.ToLower(strings.Join(msgs, " | "))
	contains := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(text, s) {
				return true
			}
		}
		return false
	}
	switch {
	case status == http.StatusTooManyRequests || has(971):
		return KindRateLimited
	case has(6003, 6111, 6103):
		return KindCredentialsFormat
	case has(9109) && contains("invalid access token"):
		// 9109 carries two meanings: this one is a bad token (revoked,
		// mistyped); "unauthorized to access requested resource" is scope.
		return KindInvalidCredentials
	case has(10000, 9109):
		return KindPermission
	case has(1000, 9103, 9106) || status == http.StatusUnauthorized:
		return KindInvalidCredentials
	case contains("missing leaf"):
		return KindMissingLeaf
	case contains("already exists"):
		return KindDuplicate
	case contains("password-protected", "password protected", "encrypted"):
		return KindEncryptedKey
	case contains("does not match"):
		return KindKeyMismatch
	case contains("not a hostname"):
		return KindNotHostnameCert
	case op.method == http.MethodDelete && contains("associated"):
		return KindCertAssociated
	case op.limit != "" && contains("limit", "maximum", "more than", "exceed", "too many"):
		return op.limit
	case has(7003, 7000) || status == http.StatusNotFound:
		return KindNotFound
	case status >= 500:
		return KindServer
	}
	return KindOther
}

// explanations says what each failure means and what to do about it.
var explanations = map[Kind][2]string{
	KindCredentialsFormat: {
		"Cloudflare could not parse the credential header",
		"set " + EnvAPIToken + " to the bare token (no \"Bearer \" prefix, quotes or line breaks), or check " + EnvAPIKey,
	},
	KindInvalidCredentials: {
		"Cloudflare does not recognise the credentials (wrong, revoked or expired token, or an account token checked as a user token)",
		"create a new API token, or check " + EnvAPIKey + " and " + EnvEmail + " if you use the global key",
	},
	KindNotFound: {
		"Cloudflare found no such object: the zone, certificate or hostname ID is wrong or was deleted",
		"check the zone name and that the certificate still exists (list the certificates), then retry",
	},
	KindRateLimited: {
		"the account used up Cloudflare's 1200 requests per 5 minutes (shared with the dashboard and other tools)",
		"wait, then run the same step again: finished steps are not repeated",
	},
	KindServer: {
		"Cloudflare kept failing with a server error",
		"retry later; see https://www.cloudflarestatus.com",
	},
	KindMissingLeaf: {
		"the uploaded certificate is a CA certificate, but Cloudflare needs the client (leaf) certificate it will present",
		"upload the leaf certificate issued by your CA (basicConstraints CA:FALSE, extKeyUsage clientAuth) with its own key; keep the CA on the origin",
	},
	KindDuplicate: {
		"this certificate is already uploaded to the zone (Cloudflare rejects duplicates)",
		"reuse the certificate already uploaded, or issue a new one to replace it",
	},
	KindCertLimit: {
		fmt.Sprintf("the zone already has the maximum of %d per-hostname AOP certificates", MaxHostnameCerts),
		"delete an unused hostname certificate (void its associations first), or share one certificate between up to 100 hostnames",
	},
	KindHostnameLimit: {
		fmt.Sprintf("a per-hostname AOP certificate can serve at most %d hostnames", MaxHostnamesPerCert),
		"split the hostnames across several certificates, or use zone-level AOP for the whole zone",
	},
	KindEncryptedKey: {
		"the private key is password-protected; Cloudflare needs an unencrypted key",
		"decrypt it (openssl pkey -in key.pem -out plain.pem) and upload the plain key",
	},
	KindKeyMismatch: {
		"the private key does not belong to the certificate",
		"upload the key the certificate was issued for",
	},
	KindNotHostnameCert: {
		"the cert_id is not a per-hostname certificate (zone-level certificate IDs cannot be associated with hostnames)",
		"upload the certificate through the per-hostname endpoint and use that ID",
	},
	KindCertAssociated: {
		"the certificate is still associated with hostnames",
		"void its hostname associations (enabled: null) first, then delete it",
	},
}

// explain fills Explanation and Remedy for e.Kind.
func (c *SDKClient) explain(e *APIError) {
	if x, ok := explanations[e.Kind]; ok {
		e.Explanation, e.Remedy = x[0], x[1]
		if e.Kind == KindInvalidCredentials && e.Permission != "" && c.cfg.Scheme() != AuthGlobalKey {
			e.Remedy += " (this call needs " + e.Permission + ")"
		}
		return
	}
	if e.Kind == KindPermission {
		if c.cfg.Scheme() == AuthGlobalKey {
			e.Explanation = "the Cloudflare account behind " + EnvEmail + " may not access this resource (this call needs " + e.Permission + ")"
			e.Remedy = "check that the zone belongs to that account, or use an API token with " + e.Permission
			return
		}
		e.Explanation = "the API token is valid but lacks the " + e.Permission + " permission for this resource, or belongs to another account"
		e.Remedy = "edit the token at https://dash.cloudflare.com/profile/api-tokens and add " + e.Permission +
			" (the dashboard calls Write \"Edit\") for this zone or account, then retry"
	}
}

// retryAfter reads how long Cloudflare asks to wait: Retry-After in seconds
// or as a date, else x-ratelimit-reset. ok is false when neither is usable.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	if v := strings.TrimSpace(h.Get("X-Ratelimit-Reset")); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now)), true
		}
	}
	return 0, false
}

// redactedError carries a scrubbed message while keeping the cause for
// errors.Is/As (context cancellation, net errors).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
