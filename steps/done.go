package steps

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
)

// doneStep writes the report: what changed, where, the ids and expiry
// dates, and how to roll back.
type doneStep struct{}

func (doneStep) Name() StepName { return StepDone }

func (doneStep) Run(_ context.Context, env *Env) error {
	r := env.Rollout
	switch {
	case strings.HasSuffix(r.Outcome, "enforce pending"):
		// The operator chose to stay in the soft phase: say so, for
		// status and the report.
		r.Outcome = "soft, verified; not enforced"
	case r.Outcome == "" || strings.HasSuffix(r.Outcome, "pending"):
		r.Outcome = "done"
	}
	if env.ReportDir == "" {
		env.info("rollout complete: " + r.Outcome)
		return nil
	}
	if err := os.MkdirAll(env.ReportDir, 0o700); err != nil {
		return fail(fmt.Errorf("create the report directory: %w", err), "")
	}
	path := filepath.Join(env.ReportDir, r.ID+".md")
	if err := renameio.WriteFile(path, []byte(Report(r)), 0o600); err != nil {
		return fail(fmt.Errorf("write the report: %w", err), "")
	}
	r.Report = path
	env.info("rollout complete: "+r.Outcome+"; report in "+path, "report", path)
	return nil
}

// Report is the rollout's summary for people.
func Report(r *Rollout) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# aopwizard rollout %s\n\n", r.ID)
	fmt.Fprintf(&b, "- Zone: %s (id %s, account %s)\n- Mode: %s\n- Outcome: %s\n- Started: %s\n- Updated: %s\n",
		r.Zone.Name, r.Zone.ID, r.Zone.AccountID, r.Inputs.Mode, r.Outcome, r.Created.Format("2006-01-02 15:04 UTC"), r.Updated.Format("2006-01-02 15:04 UTC"))
	if len(r.Inputs.Hostnames) > 0 {
		fmt.Fprintf(&b, "- Hostnames: %s\n", strings.Join(r.Inputs.Hostnames, ", "))
	}
	b.WriteString("\n## Certificates\n\n")
	for _, c := range r.Certificates {
		fmt.Fprintf(&b, "- CA file %s", c.CAFile)
		if c.ID != "" {
			fmt.Fprintf(&b, "; Cloudflare id %s", c.ID)
		}
		if c.Fingerprint != "" {
			fmt.Fprintf(&b, "; SHA-256 %s; serial %s; expires %s", c.Fingerprint, c.Serial, c.NotAfter.Format("2006-01-02"))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Changes\n\n")
	ch := r.Changes
	if ch.SSLModeSet {
		fmt.Fprintf(&b, "- SSL/TLS encryption mode switched from %s to strict\n", ch.SSLModeBefore)
	}
	if ch.TLSClientAuthSet {
		b.WriteString("- global AOP turned on\n")
	}
	if ch.ZoneAOPSet {
		b.WriteString("- zone-level AOP turned on\n")
	}
	if len(ch.HostnamesEnabled) > 0 {
		fmt.Fprintf(&b, "- %d hostname association(s) enabled\n", len(ch.HostnamesEnabled))
	}
	if ch.AlertPolicyID != "" {
		fmt.Fprintf(&b, "- expiry notification policy %s\n", ch.AlertPolicyID)
	}
	for _, f := range ch.ConfigFiles {
		fmt.Fprintf(&b, "- origin file %s\n", f)
	}
	fmt.Fprintf(&b, "- origin phase: %s\n", ch.Phase)
	fmt.Fprintf(&b, "\n## Roll back\n\n    aopwizard rollback %s\n\nundoes these changes in reverse order (origin first), and only these.\n", r.ID)
	return b.String()
}

func (doneStep) Check(_ context.Context, env *Env) (bool, error) {
	if env.Rollout.Report == "" {
		return env.ReportDir == "" && env.Rollout.Step(StepDone).Status == StatusDone, nil
	}
	_, err := os.Stat(env.Rollout.Report)
	return err == nil, nil
}

func (doneStep) Undo(context.Context, *Env) error { return nil }
