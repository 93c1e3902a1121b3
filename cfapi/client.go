package cfapi

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/alerting"
	"github.com/cloudflare/cloudflare-go/v7/option"
	ota "github.com/cloudflare/cloudflare-go/v7/origin_tls_client_auth"
	"github.com/cloudflare/cloudflare-go/v7/user"
	"github.com/cloudflare/cloudflare-go/v7/zones"
)

// Client is what aopwizard's steps need from Cloudflare: every role below.
// *SDKClient implements it. A step depends on the narrowest role it uses,
// so its tests fake only that role. The roles share no method, so fakes of
// each can be embedded side by side to make a whole Client.
type Client interface {
	Account
	ZoneSettings
	Certificates
	ZoneAOP
	Associations
	Alerts
}

// Account checks the credentials and finds the zone they reach.
type Account interface {
	// VerifyToken checks the credentials. An account token (cfat_, or a
	// legacy one the user endpoint rejects) needs accountID; without it the
	// error wraps ErrAccountIDNeeded, and the caller retries once FindZone
	// has told it the account.
	VerifyToken(ctx context.Context, accountID string) (TokenInfo, error)
	// FindZone looks a zone up by its name.
	FindZone(ctx context.Context, name string) (Zone, error)
}

// ZoneSettings reads and changes the zone settings AOP depends on: the
// SSL/TLS encryption mode and global AOP.
type ZoneSettings interface {
	SSLMode(ctx context.Context, zoneID string) (Setting, error)
	SetSSLMode(ctx context.Context, zoneID, mode string) (Setting, error)
	// TLSClientAuth is global AOP (Cloudflare's shared certificate).
	TLSClientAuth(ctx context.Context, zoneID string) (Setting, error)
	SetTLSClientAuth(ctx context.Context, zoneID string, on bool) (Setting, error)
}

// Certificates manages uploaded AOP client certificates of either level.
type Certificates interface {
	// UploadCertificate uploads a leaf and its key at level. It never
	// uploads the same certificate twice: a certificate already present (a
	// resumed step, or an attempt whose answer was lost) is returned instead.
	UploadCertificate(ctx context.Context, zoneID string, level Level, certPEM, keyPEM []byte) (Certificate, error)
	ListCertificates(ctx context.Context, zoneID string, level Level) ([]Certificate, error)
	GetCertificate(ctx context.Context, zoneID string, ref CertRef) (Certificate, error)
	DeleteCertificate(ctx context.Context, zoneID string, ref CertRef) (Certificate, error)
	// FindUploaded finds certPEM among the zone's certificates at level by
	// SHA-256 fingerprint (or serial number when the API omits the PEM).
	// Deleted certificates do not count.
	FindUploaded(ctx context.Context, zoneID string, level Level, certPEM []byte) (Certificate, bool, error)
	// WaitActive polls until the certificate is active. It fails at once on
	// deployment_timed_out or deletion, and when ctx or Config.DeployTimeout
	// ends. progress, if not nil, sees every status read.
	WaitActive(ctx context.Context, zoneID string, ref CertRef, progress func(Certificate)) (Certificate, error)
}

// ZoneAOP is the zone-level AOP switch.
type ZoneAOP interface {
	ZoneAOPEnabled(ctx context.Context, zoneID string) (bool, error)
	SetZoneAOPEnabled(ctx context.Context, zoneID string, enabled bool) (bool, error)
}

// ZoneCertificates is zone-level AOP: certificates (LevelZone) and the
// zone's switch.
type ZoneCertificates interface {
	Certificates
	ZoneAOP
}

// HostnameCertificates is per-hostname AOP: certificates (LevelHostname)
// and their associations with hostnames.
type HostnameCertificates interface {
	Certificates
	Associations
}

// Associations associates per-hostname certificates with hostnames and
// waits for them to deploy.
type Associations interface {
	// UpdateHostnames applies associations in batches (at most 100 per
	// request, requests for different certificates in parallel). Its
	// answer, one status per association, is what WaitAssociations starts
	// from.
	UpdateHostnames(ctx context.Context, zoneID string, assocs []Association) ([]HostnameStatus, error)
	// EnableHostnames, DisableHostnames and VoidHostnames associate
	// hostnames with certID with enabled true, false or null.
	EnableHostnames(ctx context.Context, zoneID, certID string, hostnames []string) ([]HostnameStatus, error)
	DisableHostnames(ctx context.Context, zoneID, certID string, hostnames []string) ([]HostnameStatus, error)
	VoidHostnames(ctx context.Context, zoneID, certID string, hostnames []string) ([]HostnameStatus, error)
	HostnameStatus(ctx context.Context, zoneID, hostname string) (HostnameStatus, error)
	// HostnameStatuses reads several hostnames, in input order: from the
	// association list when that is fewer requests, else (or for a hostname
	// the list lacks) one request per hostname, in parallel.
	HostnameStatuses(ctx context.Context, zoneID string, hostnames []string) ([]HostnameStatus, error)
	// ListHostnameAssociations uses an endpoint Cloudflare hides from its
	// docs; on ErrListUnavailable fall back to HostnameStatuses.
	ListHostnameAssociations(ctx context.Context, zoneID string, statuses ...Status) ([]HostnameStatus, error)
	// WaitHostnamesActive polls until every hostname's association and
	// certificate are active (a disabled or voided association counts as
	// settled). It reads the zone's association list, one request per
	// 1,000 associations, and one request per hostname only where that
	// list is not served.
	WaitHostnamesActive(ctx context.Context, zoneID string, hostnames []string, progress func(HostnameStatus)) ([]HostnameStatus, error)
	// WaitAssociations is WaitHostnamesActive starting from known statuses,
	// normally UpdateHostnames' answer: associations already active,
	// disabled or voided there cost no request, so an instant deployment
	// is confirmed without polling.
	WaitAssociations(ctx context.Context, zoneID string, from []HostnameStatus, progress func(HostnameStatus)) ([]HostnameStatus, error)
}

// Alerts manages the account's notification policies for certificate
// expiry.
type Alerts interface {
	ListAlertPolicies(ctx context.Context, accountID string) ([]AlertPolicy, error)
	// EnsureAlertPolicy creates the policy unless one with the same alert
	// type and name exists; created says which.
	EnsureAlertPolicy(ctx context.Context, accountID string, spec AlertPolicySpec) (p AlertPolicy, created bool, err error)
	DeleteAlertPolicy(ctx context.Context, accountID, policyID string) error
}

var _ Client = (*SDKClient)(nil)

// SDKClient implements Client with cloudflare-go's service subpackages.
type SDKClient struct {
	cfg     Config
	secrets []string

	userTokens    *user.TokenService
	accountTokens *accounts.TokenService
	zones         *zones.ZoneService
	settings      *zones.SettingService
	zoneCerts     *ota.ZoneCertificateService
	hostCerts     *ota.HostnameCertificateService
	hostnames     *ota.HostnameService
	aopSettings   *ota.SettingService
	policies      *alerting.PolicyService

	// listUnavailable remembers that the hidden association list answered
	// 404, so polls go straight to per-hostname reads; listPages is how
	// many pages it took last time, to tell which way costs fewer requests.
	listUnavailable atomic.Bool
	listPages       atomic.Int64
}

// New returns a client for cfg. It reads no environment variables: use
// ConfigFromEnv for that. The SDK's own retries are off; see Config for
// cfapi's retry policy.
func New(cfg Config) (*SDKClient, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &SDKClient{cfg: cfg}
	for _, s := range []string{cfg.Token, cfg.APIKey} {
		if s != "" {
			c.secrets = append(c.secrets, s)
		}
	}
	// Services are built directly, not through cloudflare.NewClient: that
	// would read CLOUDFLARE_* from the environment and send a token and a
	// global key together when both are set.
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
	}
	for k, v := range c.authHeaders() {
		opts = append(opts, option.WithHeader(k, v))
	}
	c.userTokens = user.NewTokenService(opts...)
	c.accountTokens = accounts.NewTokenService(opts...)
	c.zones = zones.NewZoneService(opts...)
	c.settings = zones.NewSettingService(opts...)
	c.zoneCerts = ota.NewZoneCertificateService(opts...)
	c.hostCerts = ota.NewHostnameCertificateService(opts...)
	c.hostnames = ota.NewHostnameService(opts...)
	c.aopSettings = ota.NewSettingService(opts...)
	c.policies = alerting.NewPolicyService(opts...)
	return c, nil
}

// Scheme is the credential scheme the client sends.
func (c *SDKClient) Scheme() AuthScheme { return c.cfg.Scheme() }

func (c *SDKClient) authHeaders() map[string]string {
	if c.cfg.Scheme() == AuthToken {
		return map[string]string{"Authorization": "Bearer " + c.cfg.Token}
	}
	return map[string]string{"X-Auth-Key": c.cfg.APIKey, "X-Auth-Email": c.cfg.Email}
}

// Level says which AOP endpoint family a certificate belongs to.
type Level string

const (
	LevelZone     Level = "zone"
	LevelHostname Level = "hostname"
)

// Status is the lifecycle state of a certificate or association.
type Status string

const (
	StatusInitializing       Status = "initializing"
	StatusPendingDeployment  Status = "pending_deployment"
	StatusActive             Status = "active"
	StatusPendingDeletion    Status = "pending_deletion"
	StatusDeleted            Status = "deleted"
	StatusDeploymentTimedOut Status = "deployment_timed_out"
	StatusDeletionTimedOut   Status = "deletion_timed_out"
)

// Gone reports a certificate on its way out, which cannot become active.
func (s Status) Gone() bool {
	return s == StatusPendingDeletion || s == StatusDeleted || s == StatusDeletionTimedOut
}

// CertRef names an uploaded certificate.
type CertRef struct {
	Level Level
	ID    string
}

// Certificate is an uploaded AOP client certificate.
type Certificate struct {
	Level        Level
	ID           string
	Status       Status
	Issuer       string
	Signature    string
	SerialNumber string // decimal; empty when the API omits it
	ExpiresOn    time.Time
	UploadedOn   time.Time
	PEM          string // the leaf as Cloudflare returns it
}

// Ref returns the certificate's reference.
func (c Certificate) Ref() CertRef { return CertRef{Level: c.Level, ID: c.ID} }

// Association is one entry of a per-hostname update. Enabled nil voids the
// association (required before deleting its certificate).
type Association struct {
	Hostname string
	CertID   string
	Enabled  *bool
}

// HostnameStatus is a hostname's per-hostname AOP state.
type HostnameStatus struct {
	Hostname     string
	CertID       string
	Enabled      *bool // nil: voided or never set
	Status       Status
	CertStatus   Status
	SerialNumber string
	ExpiresOn    time.Time
}

// Active reports whether Cloudflare sends the hostname's certificate.
func (h HostnameStatus) Active() bool {
	return h.Status == StatusActive && (h.CertStatus == "" || h.CertStatus == StatusActive)
}

// Zone is a zone found by name.
type Zone struct {
	ID          string
	Name        string
	Status      string // initializing, pending, active, moved
	Paused      bool
	Plan        string
	AccountID   string
	AccountName string
}

// Setting is a zone setting's value.
type Setting struct {
	Value      string
	Editable   bool
	ModifiedOn time.Time
}

// TokenKind says what VerifyToken checked.
type TokenKind string

const (
	TokenUser      TokenKind = "user"
	TokenAccount   TokenKind = "account"
	TokenGlobalKey TokenKind = "global-api-key"
)

// TokenInfo is the result of VerifyToken.
type TokenInfo struct {
	Kind      TokenKind
	ID        string
	Status    string // active, disabled, expired
	NotBefore time.Time
	ExpiresOn time.Time
}

// Alert types for AOP certificate expiration (sent 30 and 14 days before).
const (
	AlertZoneCertExpiry     = "zone_aop_custom_certificate_expiration_type"
	AlertHostnameCertExpiry = "hostname_aop_custom_certificate_expiration_type"
)

// AlertPolicySpec describes a notification policy to create.
type AlertPolicySpec struct {
	Name        string
	Description string
	AlertType   string
	Emails      []string // for email, the mechanism id is the address
	WebhookIDs  []string
	PagerDuty   []string
}

// AlertPolicy is an existing notification policy.
type AlertPolicy struct {
	ID        string
	Name      string
	AlertType string
	Enabled   bool
	Emails    []string
}
