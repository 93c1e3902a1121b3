// Package cfapi is the Cloudflare client aopwizard's steps use for
// Authenticated Origin Pulls: token checks, zone lookup, the SSL mode and
// global AOP settings, zone-level and per-hostname client certificates,
// hostname associations and expiration alerts.
//
// It is built on the official SDK's service subpackages (never the root
// package, which takes minutes to compile) with the SDK's own retries turned
// off: cfapi retries itself so that rate limits are bounded, uploads are never
// sent twice and every wait honours the caller's context.
package cfapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is Cloudflare's v4 API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4/"

// Environment variables read by ConfigFromEnv.
const (
	EnvAPIToken = "CLOUDFLARE_API_TOKEN"
	EnvAPIKey   = "CLOUDFLARE_API_KEY"
	EnvEmail    = "CLOUDFLARE_EMAIL"
	EnvBaseURL  = "CLOUDFLARE_BASE_URL"
)

// Config holds everything New needs. Zero values take the defaults noted on
// each field.
type Config struct {
	// Token is an API token (preferred). When set, APIKey and Email are ignored
	// so exactly one credential scheme is sent.
	Token string
	// APIKey and Email are the legacy global API key scheme.
	APIKey string
	Email  string

	// BaseURL defaults to DefaultBaseURL; tests point it at cfsim.
	BaseURL string
	// HTTPClient defaults to a client on a clone of http.DefaultTransport
	// that keeps enough idle connections for Concurrency.
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt (default 30s); the caller's context
	// bounds the whole call including retries.
	Timeout time.Duration

	// MaxAttempts caps attempts for 5xx answers and transport errors
	// (default 3).
	MaxAttempts int
	// BackoffBase is the first retry delay after a 5xx or transport error;
	// later ones double, with jitter (default 500ms).
	BackoffBase time.Duration
	// RateLimitRetries caps retries after a 429 (default 2; negative means
	// none).
	RateLimitRetries int
	// MaxRateLimitWait caps the total time spent waiting out 429s in one call
	// (default 60s). A Retry-After beyond it fails at once with a
	// *APIError that says when to retry.
	MaxRateLimitWait time.Duration

	// PollInterval is WaitActive's first poll delay (default 2s); it grows by
	// half each time up to PollMaxInterval (default 15s).
	PollInterval    time.Duration
	PollMaxInterval time.Duration
	// DeployTimeout bounds WaitActive (default 10m): Cloudflare gives no SLA
	// for deployment.
	DeployTimeout time.Duration

	// Concurrency bounds parallel requests in batch calls (default 4), well
	// under Cloudflare's 200 requests/second per IP.
	Concurrency int

	// Logger receives one debug record per HTTP attempt and a warning per
	// retry; nil discards. Records never hold credentials.
	Logger *slog.Logger
	// Sleep waits between retries and polls; tests replace it to avoid real
	// waits. It must return ctx.Err() when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
}

// ConfigFromEnv reads credentials and the base URL from the environment
// through getenv (os.Getenv in production, a map in tests).
func ConfigFromEnv(getenv func(string) string) Config {
	return Config{
		Token:   strings.TrimSpace(getenv(EnvAPIToken)),
		APIKey:  strings.TrimSpace(getenv(EnvAPIKey)),
		Email:   strings.TrimSpace(getenv(EnvEmail)),
		BaseURL: strings.TrimSpace(getenv(EnvBaseURL)),
	}
}

// AuthScheme says which credential scheme a client built from c sends.
type AuthScheme string

const (
	AuthNone      AuthScheme = ""
	AuthToken     AuthScheme = "api-token"
	AuthGlobalKey AuthScheme = "global-api-key"
)

// Scheme reports the scheme New will use: the token when set, else the
// global key when both key and email are set.
func (c Config) Scheme() AuthScheme {
	switch {
	case c.Token != "":
		return AuthToken
	case c.APIKey != "" && c.Email != "":
		return AuthGlobalKey
	}
	return AuthNone
}

// ErrNoCredentials means neither credential scheme is configured.
var ErrNoCredentials = errors.New("no Cloudflare credentials: set " + EnvAPIToken +
	" (an API token with SSL and Certificates Write, Zone Settings Write and Notifications Write) or " +
	EnvAPIKey + " together with " + EnvEmail)

func (c Config) withDefaults() (Config, error) {
	switch c.Scheme() {
	case AuthNone:
		if c.APIKey != "" || c.Email != "" {
			return c, fmt.Errorf("incomplete global API key credentials: %s and %s must both be set, or use %s instead",
				EnvAPIKey, EnvEmail, EnvAPIToken)
		}
		return c, ErrNoCredentials
	case AuthToken:
		if strings.ContainsAny(c.Token, " \t\r\n\"'") {
			return c, errors.New("the API token contains spaces or quotes: set " + EnvAPIToken +
				" to the bare token, without \"Bearer \" or quoting")
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return c, fmt.Errorf("invalid Cloudflare API base URL %q: want an absolute http(s) URL such as %s", c.BaseURL, DefaultBaseURL)
	}
	if !strings.HasSuffix(c.BaseURL, "/") {
		c.BaseURL += "/"
	}
	setDefault(&c.Concurrency, 4)
	if c.HTTPClient == nil {
		// Keep a connection per parallel call alive; the default of two
		// idle connections per host would re-handshake TLS in batches.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 2 * c.Concurrency
		c.HTTPClient = &http.Client{Transport: tr}
	}
	setDefault(&c.Timeout, 30*time.Second)
	setDefault(&c.MaxAttempts, 3)
	setDefault(&c.BackoffBase, 500*time.Millisecond)
	switch {
	case c.RateLimitRetries == 0:
		c.RateLimitRetries = 2
	case c.RateLimitRetries < 0:
		c.RateLimitRetries = 0
	}
	setDefault(&c.MaxRateLimitWait, 60*time.Second)
	setDefault(&c.PollInterval, 2*time.Second)
	setDefault(&c.PollMaxInterval, 15*time.Second)
	setDefault(&c.DeployTimeout, 10*time.Minute)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Sleep == nil {
		c.Sleep = sleepCtx
	}
	return c, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
