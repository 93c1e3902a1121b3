package steps

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/origin/render"
)

// Step is one module of the rollout.
type Step interface {
	Name() StepName
	// Check reports whether the step's effect is already true in the world.
	// The machine asks it before running a step a previous run left
	// running or failed (the effect may have happened just before a crash)
	// and, cheaply, for a done step on resume.
	Check(ctx context.Context, env *Env) (done bool, err error)
	// Run does the step. It must be idempotent: a crash may repeat it.
	Run(ctx context.Context, env *Env) error
	// Undo reverts what Run changed, and only that (rollback).
	Undo(ctx context.Context, env *Env) error
}

// ZoneAPI is the connect step's view of Cloudflare.
type ZoneAPI interface {
	VerifyToken(ctx context.Context, accountID string) (cfapi.TokenInfo, error)
	FindZone(ctx context.Context, name string) (cfapi.Zone, error)
	SSLMode(ctx context.Context, zoneID string) (cfapi.Setting, error)
	SetSSLMode(ctx context.Context, zoneID, mode string) (cfapi.Setting, error)
}

// GlobalAPI switches global AOP (Cloudflare's shared certificate).
type GlobalAPI interface {
	TLSClientAuth(ctx context.Context, zoneID string) (cfapi.Setting, error)
	SetTLSClientAuth(ctx context.Context, zoneID string, on bool) (cfapi.Setting, error)
}

// CertAPI uploads, finds and deletes client certificates at either level.
type CertAPI interface {
	UploadCertificate(ctx context.Context, zoneID string, level cfapi.Level, certPEM, keyPEM []byte) (cfapi.Certificate, error)
	ListCertificates(ctx context.Context, zoneID string, level cfapi.Level) ([]cfapi.Certificate, error)
	GetCertificate(ctx context.Context, zoneID string, ref cfapi.CertRef) (cfapi.Certificate, error)
	DeleteCertificate(ctx context.Context, zoneID string, ref cfapi.CertRef) (cfapi.Certificate, error)
	FindUploaded(ctx context.Context, zoneID string, level cfapi.Level, certPEM []byte) (cfapi.Certificate, bool, error)
	WaitActive(ctx context.Context, zoneID string, ref cfapi.CertRef, progress func(cfapi.Certificate)) (cfapi.Certificate, error)
}

// ZoneCertAPI is the zone-level switch.
type ZoneCertAPI interface {
	ZoneAOPEnabled(ctx context.Context, zoneID string) (bool, error)
	SetZoneAOPEnabled(ctx context.Context, zoneID string, enabled bool) (bool, error)
}

// HostnameAPI manages per-hostname associations.
type HostnameAPI interface {
	EnableHostnames(ctx context.Context, zoneID, certID string, hostnames []string) ([]cfapi.HostnameStatus, error)
	VoidHostnames(ctx context.Context, zoneID, certID string, hostnames []string) ([]cfapi.HostnameStatus, error)
	HostnameStatuses(ctx context.Context, zoneID string, hostnames []string) ([]cfapi.HostnameStatus, error)
	WaitHostnamesActive(ctx context.Context, zoneID string, hostnames []string, progress func(cfapi.HostnameStatus)) ([]cfapi.HostnameStatus, error)
}

// AlertAPI manages the expiry notification policy.
type AlertAPI interface {
	EnsureAlertPolicy(ctx context.Context, accountID string, spec cfapi.AlertPolicySpec) (cfapi.AlertPolicy, bool, error)
	DeleteAlertPolicy(ctx context.Context, accountID, policyID string) error
}

// API is every role together; *cfapi.SDKClient satisfies it.
type API interface {
	ZoneAPI
	GlobalAPI
	CertAPI
	ZoneCertAPI
	HostnameAPI
	AlertAPI
}

var _ API = (*cfapi.SDKClient)(nil)

// OriginApplier changes the origin server's configuration, checkpointed, so
// that it can be undone. ServerOrigin implements it with origin/apply.
type OriginApplier interface {
	// Apply writes the config spec renders and reloads the server; it
	// returns the checkpoint name ("" when nothing had to change) and the
	// files written.
	Apply(ctx context.Context, spec render.Spec) (checkpoint string, files []string, err error)
	// Current reports whether the files already hold spec's config.
	Current(ctx context.Context, spec render.Spec) (bool, error)
	// Rollback restores the newest checkpoint (one apply) and reloads.
	Rollback(ctx context.Context) error
	// Reload asks the server to load the config it has on disk (a config
	// found in place but not served, e.g. after the server restarted).
	Reload(ctx context.Context) error
}

// Prober probes origins directly; probe.Run is the real one.
type Prober interface {
	Probe(ctx context.Context, targets []probe.Target, cases []probe.Case) []probe.Result
}

// ProbeFunc adapts a function to Prober.
type ProbeFunc func(ctx context.Context, targets []probe.Target, cases []probe.Case) []probe.Result

// Probe implements Prober.
func (f ProbeFunc) Probe(ctx context.Context, t []probe.Target, c []probe.Case) []probe.Result {
	return f(ctx, t, c)
}

// RealProber probes with origin/probe, four connections at a time.
var RealProber Prober = ProbeFunc(func(ctx context.Context, t []probe.Target, c []probe.Case) []probe.Result {
	res, err := probe.Run(ctx, t, c, probe.RunOptions{Concurrency: 4})
	if err != nil {
		// A target the plan should have refused: Probe reports each pair
		// with it as inconclusive, so verify fails naming it instead of
		// passing on no results.
		res = make([]probe.Result, 0, len(t)*len(c))
		for _, tg := range t {
			for _, cs := range c {
				res = append(res, probe.Probe(ctx, tg, cs))
			}
		}
	}
	return res
})

// EdgeChecker proves the rollout through Cloudflare: a request to hostname
// through the edge whose cf-ray the origin logged with a verified client
// certificate. The lead wires the real one (through cfsim's edge or a
// Cloudflare address); nil skips the edge proof.
type EdgeChecker interface {
	CheckEdge(ctx context.Context, hostname string) (EdgeResult, error)
}

// EdgeResult is one request through the edge.
type EdgeResult struct {
	Hostname string
	Status   int
	Ray      string
	// Verified says the origin logged the ray with a verified certificate.
	Verified bool
	Detail   string
}

// Secrets are held in memory only, never in the state file.
type Secrets struct {
	// CAPassphrase encrypts (generate) or decrypts (import) the CA key.
	CAPassphrase []byte
}

// Env is what steps work with: the rollout and the world.
type Env struct {
	Rollout *Rollout
	API     API
	// Origin applies configs in OriginApply mode; nil in manual mode.
	Origin OriginApplier
	Prober Prober
	Edge   EdgeChecker
	// Now is the clock; nil means time.Now.
	Now     func() time.Time
	Secrets Secrets
	// GlobalCAPEM is the CA the origin trusts in global mode: Cloudflare's
	// (origin/cfca) unless a simulator stands in for Cloudflare.
	GlobalCAPEM []byte
	// DryRun makes connect read-only and stops after plan.
	DryRun bool
	// PollInterval is how often manual mode probes the origin (default 2s).
	PollInterval time.Duration
	// Summary is the plan step's "what will change" text, for --dry-run
	// and the TUI's plan screen.
	Summary string
	// Emit receives every event; nil drops them (they are still recorded).
	Emit func(Event)

	// ReportDir is where the done step writes the report file.
	ReportDir string

	step StepName
	save func() error
	// mu serialises events: cfapi reports progress from its parallel
	// batch requests.
	mu sync.Mutex
}

// checkpoint saves the rollout in the middle of a step, before an action
// whose result must survive a crash (an upload about to be sent).
func (e *Env) checkpoint() error {
	if e.save == nil {
		return nil
	}
	return e.save()
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// Event is one progress report. It is JSON as one line per event with
// --json: {"time","rollout","step","status","message","fields"}.
type Event struct {
	Time    time.Time         `json:"time"`
	Rollout string            `json:"rollout"`
	Step    StepName          `json:"step,omitempty"`
	Status  Status            `json:"status,omitempty"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Progress statuses of events that are not step transitions.
const (
	EventInfo    Status = "info"
	EventWarning Status = "warning"
)

// emit records and reports an event of the current step.
func (e *Env) emit(status Status, msg string, kv ...string) {
	ev := Event{Time: e.now(), Rollout: e.Rollout.ID, Step: e.step, Status: status, Message: msg}
	for i := 0; i+1 < len(kv); i += 2 {
		if ev.Fields == nil {
			ev.Fields = map[string]string{}
		}
		ev.Fields[kv[i]] = kv[i+1]
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.Rollout.record(ev)
	if e.Emit != nil {
		e.Emit(ev)
	}
}

func (e *Env) info(msg string, kv ...string) { e.emit(EventInfo, msg, kv...) }
func (e *Env) warn(msg string, kv ...string) { e.emit(EventWarning, msg, kv...) }

// StepError is a step failure with the remedy in product terms; cmd maps
// remedies to flags.
type StepError struct {
	Step   StepName
	Err    error
	Remedy string
	// Input marks bad input (exit 2), not a failure in the world.
	Input bool
	// Field names the input (as Problem.Field) that fixes it, if any.
	Field string
}

func (e *StepError) Error() string {
	msg := string(e.Step) + ": " + e.Err.Error()
	if e.Remedy != "" {
		msg += "; " + e.Remedy
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// fail wraps err with a remedy.
func fail(err error, remedy string) error { return &StepError{Err: err, Remedy: remedy} }

// badInput is a failure caused by the operator's input.
func badInput(err error, remedy string) error {
	return &StepError{Err: err, Remedy: remedy, Input: true}
}

// needsInput is bad input that the named input fixes.
func needsInput(err error, remedy, field string) error {
	return &StepError{Err: err, Remedy: remedy, Input: true, Field: field}
}

// FieldOf returns the input that fixes err, if any.
func FieldOf(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return se.Field
	}
	return ""
}

// IsInput reports whether err is bad input (exit 2).
func IsInput(err error) bool {
	var se *StepError
	return errors.As(err, &se) && se.Input
}

// RemedyOf returns the remedy attached to err, if any.
func RemedyOf(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return se.Remedy
	}
	var ae *cfapi.APIError
	if errors.As(err, &ae) {
		return ae.Remedy
	}
	return ""
}

// critical lets a mutating API call finish when the operator interrupts, so
// its outcome (an upload's id, a setting switched) is recorded before the
// run stops, instead of being left for the next run to discover. cfapi's
// per-attempt timeout and bounded retries keep it short.
func critical(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
