// Package ui is the interactive wizard: one Bubble Tea root model that owns
// the terminal size, the active screen, the rollout summary, help and
// styles, and one screen per rollout step. Screens never do I/O: every call
// into the rollout goes through Flow inside a tea.Cmd, and a step's progress
// events come back as messages.
package ui

import (
	"context"
	"errors"
	"time"

	"github.com/aopwizard/aopwizard/origin/sites"
)

// Step names, as the rollout state file spells them.
const (
	StepConnect     = "connect"
	StepPlan        = "plan"
	StepCertificate = "certificate"
	StepUpload      = "upload"
	StepOrigin      = "origin-soft"
	StepEnable      = "enable"
	StepVerify      = "verify"
	StepEnforce     = "enforce"
	StepAlerts      = "alerts"
	StepDone        = "done"
)

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

// Modes, certificate sources and origin handling the screens offer.
const (
	ModeGlobal   = "global"
	ModeZone     = "zone"
	ModeHostname = "hostname"

	CertGenerate   = "generate"
	CertImport     = "import"
	CertReuse      = "reuse"
	CertCloudflare = "cloudflare"

	OriginApply  = "apply"
	OriginManual = "manual"
)

// Flow is what the wizard needs from the rollout. The application wires it
// to the steps package (state file, lock, step modules); tests use a fake.
// Every method is called from a tea.Cmd, never from Update or View, and may
// block. Methods return the rollout as it stands afterwards: a copy the
// flow does not change later (the UI reads it while steps run).
type Flow interface {
	// Rollouts lists the rollouts that can be resumed, newest first.
	Rollouts(ctx context.Context) ([]Summary, error)
	// Resume makes rollout id the current one, after recovering and
	// re-verifying what its earlier run did.
	Resume(ctx context.Context, id string) (Summary, error)
	// Start begins a new rollout; nothing is written until SetInputs.
	Start(ctx context.Context) (Summary, error)
	// SetInputs records the operator's answers so far in the current
	// rollout (saved) and the secrets (held in memory only; a zero field
	// leaves the one held unchanged).
	SetInputs(ctx context.Context, in Inputs, sec Secrets) (Summary, error)
	// RunStep runs one step of the current rollout and saves the result.
	// emit receives its progress events, from the step's goroutine. A step
	// error should carry a remedy (Summary.Steps[i].Remedy or an error
	// with a Remedy() string method).
	RunStep(ctx context.Context, step string, emit func(Event)) (Summary, error)
	// Save writes the current rollout, so running the wizard again offers
	// to resume exactly where it stopped.
	Save(ctx context.Context) error
}

// ZoneLister is optional: a Flow that lists the zones a token can see gives
// the connect screen's zone field completion as you type.
type ZoneLister interface {
	Zones(ctx context.Context, token string) ([]string, error)
}

// SiteReader is optional: a Flow that reads the TLS sites of the origin
// server on this machine lets the wizard offer the certificate of the site
// that serves the hostnames as the origin's own (steps.DetectServerCert).
// A nil config with a nil error means there is nothing to read.
type SiteReader interface {
	OriginSites(ctx context.Context, in Inputs) (*sites.Config, error)
}

// Inputs are the operator's answers the screens collect. Never a secret.
type Inputs struct {
	Zone         string
	Mode         string
	Hostnames    []string
	Origins      []string
	Server       string
	OriginConfig string
	CertSource   string
	ImportCert   string
	ImportKey    string
	ImportCA     string
	ReuseCert    string
	NoPassphrase bool
	SetSSLStrict bool
	Enforce      bool
	AlertsEmail  string
	// ServerCert and ServerKey are the origin's own TLS certificate and key
	// files, asked for where the origin config may be aopwizard's own
	// server block (steps.Inputs.ServerCertQuestion); empty keeps run's.
	ServerCert string
	ServerKey  string
	// Target is where the origin config goes (run's choice, which the
	// screens only read).
	Target string
}

// Secrets live in memory only: never in the summary, the state or the view.
type Secrets struct {
	Token      string
	Passphrase []byte
}

// StepState is one step's progress.
type StepState struct {
	Name   string
	Status Status
	Error  string
	Remedy string
}

// Summary is the rollout as the screens show it.
type Summary struct {
	ID      string
	Inputs  Inputs
	Created time.Time
	Updated time.Time
	Steps   []StepState
	// Waiting says what the rollout waits for, in words, for the resume
	// list ("the origin to present the new configuration").
	Waiting string
	// SSLMode is the zone's SSL/TLS mode as connect found it; SSLFix,
	// when set, says why it must change and how.
	SSLMode string
	SSLFix  string
	// Plan lists what the rollout will change, one line each.
	Plan []string
	// Cert is the client certificate of the rollout, once there is one.
	Cert *Cert
	// Origin is the rendered origin configuration.
	Origin OriginPlan
	// Matrix is the latest verification: origin x hostname x case.
	Matrix []Check
	// Evidence lists API statuses and the edge proof, one line each.
	Evidence []string
	// Impact says what enforcing changes for clients that do not present
	// Cloudflare's certificate, one line each.
	Impact  []string
	Report  string
	Outcome string
}

// Step returns the named step's state, nil when the rollout has none.
func (s *Summary) Step(name string) *StepState {
	for i := range s.Steps {
		if s.Steps[i].Name == name {
			return &s.Steps[i]
		}
	}
	return nil
}

// Current is the first step neither done nor skipped, "" when all are.
func (s *Summary) Current() string {
	for _, st := range s.Steps {
		if st.Status != StatusDone && st.Status != StatusSkipped {
			return st.Name
		}
	}
	return ""
}

// Cert is the review card of a client certificate.
type Cert struct {
	Subject     string
	Issuer      string
	Serial      string
	NotBefore   time.Time
	NotAfter    time.Time
	Fingerprint string
	// ID is Cloudflare's certificate id once uploaded; Status its status.
	ID     string
	Status string
}

// OriginPlan is the origin configuration the wizard writes or shows.
type OriginPlan struct {
	Server string
	// Path is the file the configuration goes to (the files it changes,
	// for a diff).
	Path string
	// Where says where the change goes and why (a diff's target).
	Where  string
	Config string
	// Diff is set when Config is the change as unified diffs, not the
	// files to write.
	Diff bool
	// Commands are the commands apply runs (test, reload).
	Commands []string
}

// OriginPreviewer is optional: a Flow that works out the origin change as
// the origin step will make it (for nginx, Apache and HAProxy, the
// operator's own site edited in place) gives the origin screen that diff
// instead of the rendered files. nil: the summary's files stand.
type OriginPreviewer interface {
	PreviewOrigin(ctx context.Context) (*OriginPlan, error)
}

// Check is one cell of the verification matrix.
type Check struct {
	Origin   string
	Hostname string
	Case     string
	Expected string
	Observed string
	OK       bool
}

// Event is one progress report of a running step, as the steps package
// emits it. Events that carry the Field "case" (with "origin", "hostname",
// "expected", "observed" and "result": "ok" or "FAIL") fill the live
// matrix; the Field "output" adds lines of command output.
type Event struct {
	Time    time.Time
	Step    string
	Status  string
	Message string
	Fields  map[string]string
}

// Options configure the wizard.
type Options struct {
	// Token is CLOUDFLARE_API_TOKEN when set; the connect screen asks for
	// one only when it is empty.
	Token string
	// Demo shows the persistent "Cloudflare side is simulated" banner.
	Demo bool
	// Server is the detected origin server, the plan screen's default.
	Server string
	// Now is the clock (elapsed times, ages); nil means time.Now.
	Now func() time.Time
	// Light assumes a light background until the terminal says which.
	Light bool
	// Doctor, when set, offers the doctor screen from the start screen.
	Doctor Doctor
	// Resume is a rollout to resume at once (`aopwizard resume ID`), when
	// the flow lists it; the start screen shows the rest.
	Resume string
}

// ErrInterrupted is returned by Run when the operator pressed Ctrl-C; the
// rollout was saved first. Exit code 130.
var ErrInterrupted = errors.New("interrupted: the rollout was saved; run aopwizard again to resume")

// remedier is an error that says what to do about it.
type remedier interface{ Remedy() string }

// remedyOf is the remedy the summary or the error carries.
func remedyOf(sum *Summary, step string, err error) string {
	if st := sum.Step(step); st != nil && st.Remedy != "" {
		return st.Remedy
	}
	var r remedier
	if errors.As(err, &r) {
		return r.Remedy()
	}
	return ""
}
