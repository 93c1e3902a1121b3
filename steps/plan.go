package steps

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki"
)

// planStep fixes what the rollout will change, in Cloudflare and on the
// origin, before anything does: the certificates (several in hostname mode
// past 100 hostnames), where their files go, and the origin config.
type planStep struct{}

func (planStep) Name() StepName { return StepPlan }

func (planStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	in := &r.Inputs
	if ps := in.Validate(); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.Error()
		}
		return badInput(fmt.Errorf("%s", strings.Join(msgs, "; ")), "fix the inputs and start again")
	}
	if in.Mode == ModeHostname && in.CertSource == CertGenerate {
		existing, err := env.API.ListCertificates(ctx, r.Zone.ID, cfapi.LevelHostname)
		if err != nil {
			return fail(fmt.Errorf("list the zone's per-hostname certificates: %w", err), "")
		}
		live := 0
		for _, c := range existing {
			if !c.Status.Gone() && !r.ownsID(c.ID) {
				live++
			}
		}
		if need := certCount(len(in.Hostnames)); live+need > cfapi.MaxHostnameCerts {
			return badInput(fmt.Errorf("%d hostnames need %d per-hostname certificates and the zone already has %d: Cloudflare allows %d per zone",
				len(in.Hostnames), need, live, cfapi.MaxHostnameCerts),
				"delete unused per-hostname certificates, or use zone mode for these hostnames")
		}
	}
	if len(r.Certificates) == 0 {
		r.Certificates = planCerts(in)
	}
	// Where the origin config will go is settled by the origin step; looking
	// now tells the plan (and --dry-run), and a server with no site for the
	// hostnames and no certificate for a block of aopwizard's fails here,
	// before a certificate is made.
	if t, ok := env.Origin.(Targeter); ok && in.OriginConfig == OriginApply && in.Origin.Target == "" {
		choice, err := lookupTarget(ctx, t, r.spec(render.Soft))
		if err != nil {
			return err
		}
		env.info("the origin config would go: "+choice.Why, "target", string(choice.Target))
	}
	env.Summary = summary(r)
	for _, line := range strings.Split(strings.TrimSpace(env.Summary), "\n") {
		env.info(line)
	}
	return nil
}

// planCerts lays out the certificate records: one per group of hostnames
// (hostname mode), one for the zone, or Cloudflare's CA (global).
func planCerts(in *Inputs) []CertRecord {
	switch in.CertSource {
	case CertCloudflare:
		return []CertRecord{{CAFile: filepath.Join(in.CertDir, "cloudflare-origin-pull-ca.pem")}}
	case CertImport:
		return []CertRecord{{CertFile: in.ImportCert, KeyFile: in.ImportKey, CAFile: in.ImportCA, Hostnames: in.Hostnames}}
	case CertReuse:
		return []CertRecord{{CAFile: in.ImportCA, Hostnames: in.Hostnames, ID: reuseID(in.ReuseCert)}}
	}
	if in.Mode != ModeHostname {
		return []CertRecord{setRecord(in.CertDir, nil)}
	}
	gs := groups(in.Hostnames)
	if len(gs) == 1 {
		return []CertRecord{setRecord(in.CertDir, gs[0])}
	}
	var out []CertRecord
	for i, g := range gs {
		out = append(out, setRecord(filepath.Join(in.CertDir, fmt.Sprintf("cert-%d", i+1)), g))
	}
	return out
}

// reuseID is the id part of a reuse reference; a fingerprint is resolved by
// the certificate step.
func reuseID(ref string) string {
	if strings.Contains(ref, ":") {
		return ""
	}
	return ref
}

func setRecord(dir string, hosts []string) CertRecord {
	return CertRecord{Dir: dir, CertFile: filepath.Join(dir, pki.ClientCertFile), KeyFile: filepath.Join(dir, pki.ClientKeyFile),
		CAFile: filepath.Join(dir, pki.CACertFile), Hostnames: hosts}
}

func (r *Rollout) ownsID(id string) bool {
	for _, c := range r.Certificates {
		if c.ID == id {
			return true
		}
	}
	return false
}

// Check: the plan is pure; done once the certificates are laid out.
func (planStep) Check(_ context.Context, env *Env) (bool, error) {
	return len(env.Rollout.Certificates) > 0, nil
}

func (planStep) Undo(context.Context, *Env) error { return nil }

// summary says what the rollout will change, before anything does.
func summary(r *Rollout) string {
	in := r.Inputs
	var b strings.Builder
	fmt.Fprintf(&b, "Rollout %s: %s mode for zone %s\n", r.ID, in.Mode, in.Zone)
	b.WriteString("In Cloudflare:\n")
	if r.Changes.SSLModeBefore != "" && !cfapi.SSLModeAllowsAOP(r.Changes.SSLModeBefore) && in.SetSSLStrict {
		fmt.Fprintf(&b, "  - switch the SSL/TLS encryption mode from %s to Full (strict)\n", r.Changes.SSLModeBefore)
	}
	switch in.Mode {
	case ModeGlobal:
		b.WriteString("  - turn global AOP on: Cloudflare presents its shared certificate to every origin of the zone\n")
	case ModeZone:
		b.WriteString(certLine(in, "zone-level"))
		b.WriteString("  - turn zone-level AOP on: the certificate is presented for every proxied hostname of the zone\n")
	case ModeHostname:
		b.WriteString(certLine(in, "per-hostname"))
		if in.LegacyZoneToggle {
			b.WriteString("  - turn the zone's Authenticated Origin Pulls toggle (tls_client_auth) on, as older docs said: other proxied hostnames then get Cloudflare's shared certificate\n")
		}
		fmt.Fprintf(&b, "  - associate and enable %d hostname(s): %s\n", len(in.Hostnames), abbreviate(in.Hostnames, 5))
	}
	if in.AlertsEmail != "" {
		fmt.Fprintf(&b, "  - add an expiry notification policy mailing %s\n", in.AlertsEmail)
	}
	b.WriteString("On the origin:\n")
	for _, c := range r.Certificates {
		if c.Dir != "" && in.CertSource == CertGenerate {
			fmt.Fprintf(&b, "  - write a CA and client certificate to %s (CA key %s)\n", c.Dir, map[bool]string{true: "unencrypted", false: "encrypted"}[in.NoPassphrase])
		}
	}
	how := "aopwizard writes it (checkpointed, undone by rollback)"
	if in.OriginConfig == OriginManual {
		how = "you write it; aopwizard prints it and watches the origin"
	}
	fmt.Fprintf(&b, "  - %s config, soft phase first (every request still served, the verification logged): %s\n", in.Server, how)
	switch inplace.Target(in.Origin.Target) {
	case inplace.Existing:
		b.WriteString("    in place, in the operator's own site that serves the hostnames\n")
	case inplace.Managed:
		b.WriteString("    in a server block of aopwizard's own\n")
	}
	if in.Enforce {
		b.WriteString("  - then the enforce phase: requests without the right client certificate are refused\n")
	} else {
		b.WriteString("  - enforce phase: not in this run (the rollout stops verified in the soft phase)\n")
	}
	if len(in.Origins) > 0 {
		fmt.Fprintf(&b, "Verified by probing %s directly", strings.Join(in.Origins, ", "))
		if len(in.Hostnames) > 0 {
			fmt.Fprintf(&b, " for %s", abbreviate(in.Hostnames, 5))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func certLine(in Inputs, level string) string {
	switch in.CertSource {
	case CertReuse:
		return fmt.Sprintf("  - reuse the %s certificate %s already uploaded\n", level, in.ReuseCert)
	case CertImport:
		return fmt.Sprintf("  - upload the %s certificate %s\n", level, in.ImportCert)
	}
	n := 1
	if in.Mode == ModeHostname {
		n = certCount(len(in.Hostnames))
	}
	return fmt.Sprintf("  - upload %d new %s client certificate(s)\n", n, level)
}

func abbreviate(s []string, n int) string {
	if len(s) <= n {
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(s[:n], ", "), len(s)-n)
}
