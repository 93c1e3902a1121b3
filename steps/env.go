package steps

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/cfca"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/pki"
)

// EnvOptions say how NewEnv wires a rollout to the world. The headless
// commands and the interactive wizard build their Env with the same
// function, so both drive the steps against the same world.
type EnvOptions struct {
	// Config is the Cloudflare client's: the token and, for a simulator,
	// the base URL. Never saved.
	Config cfapi.Config
	// StateDir holds the rollouts, the origin checkpoints and the reports.
	StateDir string
	// Runner runs the origin server's config test and reload; nil runs
	// the commands, or the process's BuiltinHostFor the config when they
	// are the builtin ones. Tests pass a *BuiltinHost of their own.
	Runner server.Runner
	// GlobalCAPEM stands in for Cloudflare's global CA when a simulator
	// stands in for Cloudflare; nil is Cloudflare's own (origin/cfca).
	GlobalCAPEM []byte
	// Log receives origin/apply's progress lines; nil discards them.
	Log io.Writer
	// Emit receives every event.
	Emit func(Event)
}

// NewEnv wires rollout r: the Cloudflare client, the real prober, the
// through-Cloudflare check its inputs ask for, the origin applier in apply
// mode and the report directory. Its errors are about the inputs or the
// configuration (a token missing, an edge CA that does not parse).
func NewEnv(ctx context.Context, r *Rollout, o EnvOptions) (*Env, error) {
	api, err := cfapi.New(o.Config)
	if err != nil {
		return nil, err
	}
	env := &Env{Rollout: r, API: api, Prober: RealProber, GlobalCAPEM: cfca.PEM(),
		ReportDir: filepath.Join(o.StateDir, "reports"), Emit: o.Emit}
	if o.GlobalCAPEM != nil {
		env.GlobalCAPEM = o.GlobalCAPEM
	}
	if env.Edge, err = NewEdgeChecker(ctx, r.Inputs.Edge); err != nil {
		return nil, err
	}
	if r.Inputs.OriginConfig == OriginApply && r.Inputs.Server != "" {
		log := o.Log
		if log == nil {
			log = io.Discard
		}
		runner := o.Runner
		if runner == nil && r.Inputs.Origin.inProcess() {
			runner = BuiltinHostFor(r.Inputs.Origin.Config)
		}
		origin, err := NewServerOrigin(r.Inputs, runner, log, o.StateDir)
		if err != nil {
			return nil, err
		}
		env.Origin = origin
	}
	return env, nil
}

// NewEdgeChecker is the through-Cloudflare check the inputs ask for: none
// when skipped, else requests to each hostname (or to the given address)
// trusting the system's roots plus the given CA.
func NewEdgeChecker(ctx context.Context, in EdgeInputs) (EdgeChecker, error) {
	if in.Skip {
		return nil, nil
	}
	e := &HTTPEdge{Addr: in.Addr}
	if in.CAFile != "" {
		data, err := pki.ReadInput(ctx, in.CAFile, pki.MaxInputSize)
		if err != nil {
			return nil, fmt.Errorf("the edge's CA: %w", err)
		}
		certs, err := pki.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("the edge's CA %s: %w", in.CAFile, err)
		}
		if e.RootCAs, err = x509.SystemCertPool(); err != nil {
			e.RootCAs = x509.NewCertPool()
		}
		for _, c := range certs {
			e.RootCAs.AddCert(c)
		}
	}
	return e, nil
}

// PlanSummary is what the rollout will change, as the plan step reports it
// (empty before the plan).
func PlanSummary(r *Rollout) string {
	if st := r.Step(StepPlan); st == nil || st.Status != StatusDone {
		return ""
	}
	return summary(r)
}

// OriginView is the origin change the rollout will make, before it does:
// where it goes and what changes.
type OriginView struct {
	// Target is where the config goes on a server aopwizard edits
	// (empty for the rendered files of a manual config), and Why says why.
	Target inplace.Target
	Why    string
	// Files are the files changed; Diff is their change, as unified diffs.
	Files []string
	Diff  string
	// Commands test and reload the server.
	Commands []string
}

// Previewer is an origin applier that can show its change before making
// it (ServerOrigin).
type Previewer interface {
	Preview(ctx context.Context, spec render.Spec) (OriginView, error)
}

// PreviewOrigin is the soft phase's change on the origin as the origin
// step would make it: on a server aopwizard edits, the diff at the target
// it would choose (an existing site is edited in place, which a rendered
// block of aopwizard's would not show); otherwise nil, and OriginPreview's
// rendered files are what the operator writes.
func PreviewOrigin(ctx context.Context, env *Env) (*OriginView, error) {
	r := env.Rollout
	p, ok := env.Origin.(Previewer)
	if !ok || r.Inputs.OriginConfig != OriginApply || len(r.Certificates) == 0 {
		return nil, nil
	}
	v, err := p.Preview(ctx, r.spec(render.Soft))
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// OriginPreview is the soft phase's origin configuration for review: the
// rendered files (each headed by its path) and the commands apply runs.
// It renders nothing before the plan laid out the certificates.
func OriginPreview(r *Rollout) (path, config string, commands []string, err error) {
	if len(r.Certificates) == 0 || r.Inputs.Server == "" {
		return "", "", nil, nil
	}
	out, err := render.Render(r.spec(render.Soft))
	if err != nil {
		return "", "", nil, err
	}
	var b strings.Builder
	for i, f := range out.Files {
		if i == 0 {
			path = f.Path
		}
		if len(out.Files) > 1 {
			fmt.Fprintf(&b, "# %s\n", f.Path)
		}
		b.Write(f.Content)
		if len(f.Content) > 0 && f.Content[len(f.Content)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	for _, n := range out.Notes {
		fmt.Fprintf(&b, "# note: %s\n", n)
	}
	for _, c := range []string{r.Inputs.Origin.TestCmd, r.Inputs.Origin.ReloadCmd} {
		if c != "" {
			commands = append(commands, c)
		}
	}
	return path, b.String(), commands, nil
}
