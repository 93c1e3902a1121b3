package steps

import (
	"fmt"
	"time"
)

// SchemaVersion is the version of the rollout file this build writes. A file
// with a newer version is refused, never rewritten: an older binary would
// drop the fields it does not know.
const SchemaVersion = 1

// MaxEvents bounds the event history kept in the state file, so a rollout
// polled for days does not grow without end.
const MaxEvents = 500

// Mode is the AOP level a rollout sets up.
type Mode string

// Modes, as docs/cloudflare-api.md "The three AOP levels" describes them.
const (
	ModeGlobal   Mode = "global"
	ModeZone     Mode = "zone"
	ModeHostname Mode = "hostname"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeGlobal, ModeZone, ModeHostname:
		return m, nil
	}
	return "", fmt.Errorf("mode %q is unknown: use global (Cloudflare's shared certificate), zone (your certificate for the whole zone) or hostname (your certificate per hostname)", s)
}

// Status is where a step stands.
type Status string

// Step statuses.
const (
	StatusPending Status = "pending"
	StatusRunning Status = "running"
	StatusDone    Status = "done"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// StepName names a step; it is also the key in the state file.
type StepName string

// The steps, in the order a rollout runs them.
const (
	StepConnect     StepName = "connect"
	StepPlan        StepName = "plan"
	StepCertificate StepName = "certificate"
	StepUpload      StepName = "upload"
	StepOriginSoft  StepName = "origin-soft"
	StepEnable      StepName = "enable"
	StepVerify      StepName = "verify"
	StepEnforce     StepName = "enforce"
	StepAlerts      StepName = "alerts"
	StepDone        StepName = "done"
)

// Origin config handling.
const (
	OriginApply  = "apply"  // aopwizard writes the config with origin/apply
	OriginManual = "manual" // the operator writes it; aopwizard watches with probes
)

// Certificate sources.
const (
	CertGenerate   = "generate"
	CertImport     = "import"
	CertReuse      = "reuse"
	CertCloudflare = "cloudflare" // global mode: Cloudflare's shared certificate
)

// Inputs are everything the operator decided, kept so a resume needs no
// flags again. Never a secret: the token comes from the environment and the
// CA passphrase is asked for again when a step needs it.
type Inputs struct {
	Zone      string   `json:"zone"`
	Mode      Mode     `json:"mode"`
	Hostnames []string `json:"hostnames,omitempty"`
	// Origins are IP[:port] addresses the verify step probes directly.
	Origins []string `json:"origins,omitempty"`
	Server  string   `json:"server,omitempty"`
	// OriginConfig is OriginApply or OriginManual.
	OriginConfig string        `json:"origin_config"`
	WaitOrigin   time.Duration `json:"wait_origin,omitempty"`

	CertSource   string `json:"cert_source"`
	CertDir      string `json:"cert_dir,omitempty"`
	ImportCert   string `json:"import_cert,omitempty"`
	ImportKey    string `json:"import_key,omitempty"`
	ImportCA     string `json:"import_ca,omitempty"`
	ReuseCert    string `json:"reuse_cert,omitempty"` // certificate id or SHA-256 fingerprint
	KeyType      string `json:"key_type,omitempty"`
	NoPassphrase bool   `json:"no_passphrase,omitempty"`

	Enforce      bool   `json:"enforce,omitempty"`
	AutoRevert   bool   `json:"auto_revert,omitempty"`
	AlertsEmail  string `json:"alerts_email,omitempty"`
	SetSSLStrict bool   `json:"set_ssl_strict,omitempty"`
	// LegacyZoneToggle, in hostname mode, also turns the zone's
	// tls_client_auth setting on, as Cloudflare's older per-hostname
	// instructions said (docs/cloudflare-api.md, "AOP levels and
	// precedence": current docs do not, and the levels are independent).
	LegacyZoneToggle bool `json:"legacy_zone_toggle,omitempty"`

	Origin OriginInputs `json:"origin"`
	Edge   EdgeInputs   `json:"edge"`
}

// EdgeInputs say how verify and enforce reach the hostnames through
// Cloudflare for the end-to-end proof.
type EdgeInputs struct {
	// Addr is dialled instead of each hostname's DNS answer (host:port).
	Addr string `json:"addr,omitempty"`
	// CAFile is trusted for the edge's certificate, besides the system's.
	CAFile string `json:"ca_file,omitempty"`
	// Skip leaves the proof out (no edge reachable from here).
	Skip bool `json:"skip,omitempty"`
}

// OriginInputs locate the origin server's files and commands (the overrides
// `origin apply` takes), for layouts outside Debian's.
type OriginInputs struct {
	Listen        string `json:"listen,omitempty"`
	ServerCert    string `json:"server_cert,omitempty"`
	ServerKey     string `json:"server_key,omitempty"`
	Upstream      string `json:"upstream,omitempty"`
	AccessLog     string `json:"access_log,omitempty"`
	ConfDir       string `json:"conf_dir,omitempty"`
	Config        string `json:"config,omitempty"`
	Binary        string `json:"binary,omitempty"`
	TestCmd       string `json:"test_cmd,omitempty"`
	ReloadCmd     string `json:"reload_cmd,omitempty"`
	PIDFile       string `json:"pid_file,omitempty"`
	ErrorLog      string `json:"error_log,omitempty"`
	CheckpointDir string `json:"checkpoint_dir,omitempty"`
	// Systemd, when set, overrides whether the reload goes through
	// systemctl (default: when systemd runs the host).
	Systemd *bool `json:"systemd,omitempty"`
	// Target is where the config goes: "existing" (the operator's TLS
	// site for the hostnames, edited in place), "managed" (aopwizard's own
	// server block), or "" until the origin step chooses: existing when
	// the server has a site for the hostnames (docs/origin-servers.md).
	Target string `json:"target,omitempty"`
}

// ZoneInfo is what connect found out about the zone.
type ZoneInfo struct {
	Name      string `json:"name"`
	ID        string `json:"id,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	Plan      string `json:"plan,omitempty"`
	SSLMode   string `json:"ssl_mode,omitempty"`
}

// CertRecord is one client certificate of the rollout: where its files are,
// what it is, and its id at Cloudflare once uploaded.
type CertRecord struct {
	// Dir holds the set's files (pki.WriteFiles names) when generated.
	Dir         string    `json:"dir,omitempty"`
	CertFile    string    `json:"cert_file,omitempty"`
	KeyFile     string    `json:"key_file,omitempty"`
	CAFile      string    `json:"ca_file"`
	Hostnames   []string  `json:"hostnames,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	Serial      string    `json:"serial,omitempty"`
	Fingerprint string    `json:"sha256_fingerprint,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	// ID is Cloudflare's certificate id; Uploaded says this rollout
	// uploaded it (rollback deletes only those), not adopted it.
	ID       string `json:"id,omitempty"`
	Uploaded bool   `json:"uploaded,omitempty"`
	// UploadStarted is saved before the upload is sent, so a resume knows
	// a certificate found at Cloudflare is this rollout's own.
	UploadStarted bool `json:"upload_started,omitempty"`
	// Generated says this rollout wrote the files (rollback leaves them:
	// they are the operator's only copy of the CA key).
	Generated bool `json:"generated,omitempty"`
}

// Changes records what the rollout changed outside its own files, so
// rollback undoes exactly that and nothing an operator did by hand.
type Changes struct {
	SSLModeBefore      string   `json:"ssl_mode_before,omitempty"`
	SSLModeSet         bool     `json:"ssl_mode_set,omitempty"`
	TLSClientAuthSet   bool     `json:"tls_client_auth_set,omitempty"`
	ZoneAOPSet         bool     `json:"zone_aop_set,omitempty"`
	HostnamesEnabled   []string `json:"hostnames_enabled,omitempty"`
	AlertPolicyID      string   `json:"alert_policy_id,omitempty"`
	AlertPolicyCreated bool     `json:"alert_policy_created,omitempty"`
	// Soft and Enforce are the origin changes of the two phases; rollback
	// restores them newest first.
	Soft    PhaseChange `json:"origin_soft,omitzero"`
	Enforce PhaseChange `json:"origin_enforce,omitzero"`
	// ConfigFiles are the origin files written.
	ConfigFiles []string `json:"config_files,omitempty"`
	// Phase is the origin phase last applied or observed.
	Phase string `json:"origin_phase,omitempty"`
	// Rotated are the origin changes of finished rotations to a new CA
	// (trust both CAs, then the new one only), oldest first; rollback
	// restores them before the phases.
	Rotated []PhaseChange `json:"origin_rotations,omitempty"`
}

// PhaseChange is one origin config change made with origin/apply.
type PhaseChange struct {
	// Applying is saved before the change is sent to the origin, so a
	// resume knows a config found in place is this rollout's own.
	Applying bool `json:"applying,omitempty"`
	// Checkpoint is origin/apply's checkpoint of the change; rollback
	// restores it. RecoveredCheckpoint stands in when a crash lost the name.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// RecoveredCheckpoint is recorded when the origin change was made but a
// crash lost its checkpoint's name: rollback restores the newest one.
const RecoveredCheckpoint = "(newest; recorded after a crash)"

// StepState is one step's progress.
type StepState struct {
	Name     StepName   `json:"name"`
	Status   Status     `json:"status"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Attempts int        `json:"attempts,omitempty"`
	Error    string     `json:"error,omitempty"`
	Remedy   string     `json:"remedy,omitempty"`
}

// Rollout is the state file: one per rollout, rewritten atomically after
// every transition.
type Rollout struct {
	SchemaVersion int          `json:"schema_version"`
	ID            string       `json:"id"`
	Created       time.Time    `json:"created"`
	Updated       time.Time    `json:"updated"`
	Inputs        Inputs       `json:"inputs"`
	Zone          ZoneInfo     `json:"zone"`
	Certificates  []CertRecord `json:"certificates,omitempty"`
	Changes       Changes      `json:"changes"`
	Steps         []StepState  `json:"steps"`
	// SiteAddrs are the listen addresses of the operator's site the origin
	// config went into (target existing): what the probes dial when no
	// origin address was given, rather than a guessed :443.
	SiteAddrs []string `json:"site_addrs,omitempty"`
	// Outcome is the one-line state a person reads in `status`.
	Outcome string `json:"outcome,omitempty"`
	// Report is the path of the report file the done step wrote.
	Report string `json:"report,omitempty"`
	// Rotation is a certificate rotation in progress (nil otherwise).
	Rotation *Rotation `json:"rotation,omitempty"`
	// Rotations counts the completed rotations.
	Rotations int `json:"rotations,omitempty"`
	// RolledBack is set once rollback has undone the rollout.
	RolledBack bool    `json:"rolled_back,omitempty"`
	Events     []Event `json:"events,omitempty"`
}

// Step returns the state of the named step, nil when the rollout has no
// such step.
func (r *Rollout) Step(name StepName) *StepState {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Current is the first step not done or skipped ("" when all are).
func (r *Rollout) Current() StepName {
	for _, s := range r.Steps {
		if s.Status != StatusDone && s.Status != StatusSkipped {
			return s.Name
		}
	}
	return ""
}

// Finished reports whether every step is done or skipped.
func (r *Rollout) Finished() bool { return r.Current() == "" }

// Open reports whether the rollout can still be resumed: not finished and
// not rolled back.
func (r *Rollout) Open() bool { return !r.RolledBack && !r.Finished() }

// record appends ev to the bounded history.
func (r *Rollout) record(ev Event) {
	r.Events = append(r.Events, ev)
	if n := len(r.Events) - MaxEvents; n > 0 {
		r.Events = append(r.Events[:0:0], r.Events[n:]...)
	}
}

// NewRollout starts a rollout for in with every step of its mode pending.
func NewRollout(id string, in Inputs, now time.Time) *Rollout {
	r := &Rollout{SchemaVersion: SchemaVersion, ID: id, Created: now, Updated: now, Inputs: in, Zone: ZoneInfo{Name: in.Zone}}
	r.Relayout()
	return r
}

// Relayout gives the rollout the steps its inputs call for (the mode and
// the alert address decide), keeping the state of the steps it had; the
// others start pending.
func (r *Rollout) Relayout() {
	names := StepsFor(r.Inputs)
	out := make([]StepState, 0, len(names))
	for _, n := range names {
		st := StepState{Name: n, Status: StatusPending}
		if old := r.Step(n); old != nil {
			st = *old
		}
		out = append(out, st)
	}
	r.Steps = out
}

// StepsFor lists the steps a rollout with these inputs runs, in order.
// Global mode uploads nothing; alerts exist only for the modes Cloudflare
// has an expiry alert for, and only when an address was given.
func StepsFor(in Inputs) []StepName {
	s := []StepName{StepConnect, StepPlan, StepCertificate}
	if in.Mode != ModeGlobal {
		s = append(s, StepUpload)
	}
	s = append(s, StepOriginSoft, StepEnable, StepVerify, StepEnforce)
	if in.Mode != ModeGlobal && in.AlertsEmail != "" {
		s = append(s, StepAlerts)
	}
	return append(s, StepDone)
}
