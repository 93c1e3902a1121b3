package doctor

import (
	"time"

	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/probe"
)

// Severity ranks a finding. Only warn and error are problems; a report's
// worst severity decides the exit status a front end gives.
type Severity string

// Severities, mildest first.
const (
	OK    Severity = "ok"
	Info  Severity = "info"
	Warn  Severity = "warn"
	Error Severity = "error"
)

func (s Severity) rank() int {
	switch s {
	case Info:
		return 1
	case Warn:
		return 2
	case Error:
		return 3
	}
	return 0
}

// Action names a remedy a front end can apply with one of aopwizard's own
// commands or screens. The library names the action, not a command line:
// the CLI and the TUI each map it to what they offer.
type Action string

// Actions with an aopwizard command behind them.
const (
	// ActionNewClientCert issues a new client certificate (to upload in
	// place of an expired or expiring one).
	ActionNewClientCert Action = "new-client-cert"
	// ActionOriginEnforce switches the origin to the enforce phase.
	ActionOriginEnforce Action = "origin-enforce"
	// ActionOriginSoft switches the origin back to the soft phase, which
	// lets every request through while logging the verification result.
	ActionOriginSoft Action = "origin-soft"
	// ActionEvidence reads the origin's evidence log.
	ActionEvidence Action = "origin-evidence"
	// ActionProbe probes the origin straight, bypassing Cloudflare.
	ActionProbe Action = "probe"
)

// Finding codes. They are stable: scripts and tests match on them.
const (
	CodeSSLModeNoAOP       = "ssl-mode-no-aop"
	CodeSSLModeFull        = "ssl-mode-full"
	CodeSSLModeOK          = "ssl-mode-ok"
	CodeLevels             = "aop-levels"
	CodeGlobalCAExpiry     = "global-ca-expiry"
	CodeZoneNoActiveCert   = "zone-aop-no-active-cert"
	CodeZoneSeveralCerts   = "zone-aop-several-certs"
	CodeCertOK             = "cert-ok"
	CodeCertExpired        = "cert-expired"
	CodeCertExpiring       = "cert-expiring"
	CodeCertTimedOut       = "cert-deployment-timed-out"
	CodeCertDeploying      = "cert-deploying"
	CodeCertDeleting       = "cert-deleting"
	CodeCertDeleted        = "cert-deleted"
	CodeAssocCertDeleted   = "association-cert-deleted"
	CodeAssocCertExpired   = "association-cert-expired"
	CodeAssocCertInactive  = "association-cert-inactive"
	CodeAssocPending       = "association-pending"
	CodeAssocTimedOut      = "association-timed-out"
	CodeHostnameDisabled   = "hostname-disabled"
	CodeHostnameCert       = "hostname-cert"
	CodeHostnameNoCert     = "hostname-no-client-cert"
	CodeAlertsOK           = "expiry-alerts-ok"
	CodeAlertsMissing      = "expiry-alerts-missing"
	CodeReadFailed         = "read-failed"
	CodeAssocListFallback  = "association-list-unavailable"
	CodeOriginUnreachable  = "origin-unreachable"
	CodeOriginEnforces     = "origin-enforces"
	CodeOriginNotEnforcing = "origin-not-enforcing"
	CodeOriginRejectsRight = "origin-rejects-right-cert"
	CodeOriginWrongCA      = "origin-trusts-other-ca"
	CodeOriginNoAOP        = "origin-enforces-without-aop"
	CodeEvidenceVerified   = "evidence-verified"
	CodeEvidenceFailures   = "evidence-cloudflare-failures"
	CodeEvidenceNoRays     = "evidence-no-cloudflare-requests"
	CodeEvidenceDirect     = "evidence-direct-requests"
)

// Finding is one observation with what to do about it.
type Finding struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	// Subject is what the finding is about: a hostname, a certificate ID,
	// an origin address; empty for the zone.
	Subject string `json:"subject,omitempty"`
	Message string `json:"message"`
	// Remedy says what to do, in product terms; empty for ok and info
	// findings that need nothing.
	Remedy string `json:"remedy,omitempty"`
	// Action is set when one of aopwizard's commands applies the remedy.
	Action Action `json:"action,omitempty"`
}

// Level says which AOP level decides the certificate Cloudflare presents
// for a hostname (docs/cloudflare-api.md, "AOP levels and precedence").
type Level string

// Levels, by precedence.
const (
	// LevelHostname: an enabled association with an active certificate.
	LevelHostname Level = "hostname"
	// LevelHostnameDisabled: an association with enabled:false, which
	// sends no certificate even with the other levels on.
	LevelHostnameDisabled Level = "hostname-disabled"
	// LevelZone: zone-level AOP with an active, unexpired certificate.
	LevelZone Level = "zone"
	// LevelGlobal: tls_client_auth on; Cloudflare's shared certificate.
	LevelGlobal Level = "global"
	// LevelNone: Cloudflare presents no client certificate.
	LevelNone Level = "none"
)

// CertState is one uploaded certificate as the doctor judged it.
type CertState struct {
	Level     string    `json:"level"`
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Issuer    string    `json:"issuer,omitempty"`
	Serial    string    `json:"serial_number,omitempty"`
	ExpiresOn time.Time `json:"expires_on,omitzero"`
	// DaysLeft is negative once expired.
	DaysLeft int      `json:"days_left"`
	Severity Severity `json:"severity"`
}

// HostState is the certificate Cloudflare presents for one hostname.
type HostState struct {
	Hostname string `json:"hostname"`
	Level    Level  `json:"level"`
	// CertID is the winning certificate (hostname or zone level).
	CertID string `json:"cert_id,omitempty"`
	// Association describes the per-hostname association, if any:
	// "enabled", "disabled" or "broken" (enabled, but its certificate
	// cannot be presented).
	Association string `json:"association,omitempty"`
	// Issuer is the distinguished name of the CA the origin must trust
	// for this hostname; empty with no client certificate.
	Issuer string `json:"issuer,omitempty"`
}

// OriginState is the probe verdict for one origin address and name.
type OriginState struct {
	Addr      string         `json:"addr"`
	SNI       string         `json:"sni,omitempty"`
	Enforcing *bool          `json:"enforcing,omitempty"`
	Results   []probe.Result `json:"results"`
}

// EvidenceState summarises the origin's evidence logs.
type EvidenceState struct {
	Files []string `json:"files"`
	// Cloudflare counts requests that carried a CF-Ray; Verified those of
	// them whose client certificate verified.
	Cloudflare int `json:"cloudflare_requests"`
	Verified   int `json:"cloudflare_verified"`
	// Direct counts requests without a CF-Ray.
	Direct int `json:"direct_requests"`
	// Impact is what the enforce phase would refuse of the logged traffic.
	Impact evidence.Impact `json:"enforce_impact"`
}

// Report is the doctor's whole answer.
type Report struct {
	Zone          string         `json:"zone"`
	ZoneID        string         `json:"zone_id"`
	CheckedAt     time.Time      `json:"checked_at"`
	SSLMode       string         `json:"ssl_mode,omitempty"`
	GlobalAOP     bool           `json:"global_aop"`
	ZoneAOP       bool           `json:"zone_aop"`
	Certificates  []CertState    `json:"certificates"`
	Hostnames     []HostState    `json:"hostnames"`
	Origins       []OriginState  `json:"origins,omitempty"`
	Evidence      *EvidenceState `json:"evidence,omitempty"`
	Findings      []Finding      `json:"findings"`
	AlertPolicies []string       `json:"alert_types,omitempty"`
}

// Worst is the most severe finding's severity (OK with none).
func (r *Report) Worst() Severity {
	w := OK
	for _, f := range r.Findings {
		if f.Severity.rank() > w.rank() {
			w = f.Severity
		}
	}
	return w
}

// Problems reports whether any finding is an error: the state a front end
// exits 1 for. Warnings are shown but do not fail the check, so a cron
// job alerts on breakage, not on a certificate with three weeks left.
func (r *Report) Problems() bool { return r.Worst() == Error }

// Find returns the findings with code (for tests and front ends).
func (r *Report) Find(code string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Code == code {
			out = append(out, f)
		}
	}
	return out
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }
