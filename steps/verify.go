package steps

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/evidence"
	"github.com/aopwizard/aopwizard/origin/probe"
)

// verifyStep proves the soft phase before anyone enforces: (a) probes of
// every origin x hostname, (b) Cloudflare's statuses, (c) the evidence log
// when it is readable, and (d) the proof through the edge when an
// EdgeChecker is wired.
type verifyStep struct{}

func (verifyStep) Name() StepName { return StepVerify }

func (verifyStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	// The log first: the probes below add requests of their own.
	evidenceCounts(ctx, env)
	var failures []string
	failures = append(failures, matrix(ctx, env, probe.Soft)...)
	failures = append(failures, apiStatuses(ctx, env)...)
	edge, _ := edgeProof(ctx, env)
	failures = append(failures, edge...)
	if len(failures) > 0 {
		return fail(fmt.Errorf("verification failed: %s", strings.Join(failures, "; ")), "fix what failed (the origin config, or wait for Cloudflare) and resume; nothing was enforced")
	}
	if !r.Inputs.Enforce {
		r.Outcome = "soft, verified; enforce pending"
	}
	env.info("soft phase verified")
	return nil
}

// matrix probes and reports every cell; it returns the failing ones.
func matrix(ctx context.Context, env *Env, phase probe.Phase) []string {
	rows, err := probeMatrix(ctx, env, phase)
	if err != nil {
		return []string{err.Error()}
	}
	var failures []string
	for _, x := range rows {
		result, st := "ok", EventInfo
		if !x.OK {
			result, st = "FAIL", EventWarning
			failures = append(failures, fmt.Sprintf("%s %s %s: expected %s, got %s", x.Origin, x.Host, x.Case, x.Expected, x.Observed))
		}
		env.emit(st, fmt.Sprintf("%s %s %s: %s (%s)", x.Origin, x.Host, x.Case, x.Observed, result),
			"origin", x.Origin, "hostname", x.Host, "case", x.Case, "expected", x.Expected, "observed", x.Observed, "result", result, "phase", string(phase))
	}
	return failures
}

func apiStatuses(ctx context.Context, env *Env) []string {
	r := env.Rollout
	var failures []string
	check := func(what string, ok bool, err error) {
		switch {
		case err != nil:
			failures = append(failures, what+": "+err.Error())
		case !ok:
			failures = append(failures, what+": not active")
		default:
			env.info(what+": active", "check", "api")
		}
	}
	switch r.Inputs.Mode {
	case ModeGlobal:
		s, err := env.API.TLSClientAuth(ctx, r.Zone.ID)
		check("global AOP", s.Value == "on", err)
		return failures
	case ModeZone:
		on, err := env.API.ZoneAOPEnabled(ctx, r.Zone.ID)
		check("zone-level AOP", on, err)
	}
	for _, c := range r.Certificates {
		got, err := env.API.GetCertificate(ctx, r.Zone.ID, cfapi.CertRef{Level: r.level(), ID: c.ID})
		check("certificate "+c.ID, got.Status == cfapi.StatusActive, err)
		if r.Inputs.Mode != ModeHostname {
			continue
		}
		sts, err := env.API.HostnameStatuses(ctx, r.Zone.ID, c.Hostnames)
		for _, s := range sts {
			check("hostname "+s.Hostname, s.Active() && s.CertID == c.ID, err)
		}
		if err != nil {
			check("hostnames", false, err)
		}
	}
	return failures
}

// evidenceCounts reports the soft-phase log's counts per hostname, when the
// log is on this machine and readable; it never fails the step (the log
// fills with Cloudflare traffic over time, not at once).
func evidenceCounts(ctx context.Context, env *Env) {
	path := env.Rollout.evidenceLog()
	if _, err := os.Stat(path); err != nil {
		env.info("evidence log not readable here: "+err.Error(), "check", "evidence")
		return
	}
	opts := evidence.Options{Hostnames: env.Rollout.Inputs.Hostnames}
	// Only what the soft phase saw: earlier lines are another config's.
	if st := env.Rollout.Step(StepOriginSoft); st != nil && st.Finished != nil {
		opts.From = *st.Finished
	}
	rep, err := evidence.ReadFiles(ctx, []string{path}, opts)
	if err != nil {
		env.warn("read the evidence log: "+err.Error(), "check", "evidence")
		return
	}
	for _, h := range rep.Hosts {
		env.info("evidence since the soft phase went live, "+h.Hostname+": "+h.String(), "check", "evidence", "hostname", h.Hostname,
			"requests", strconv.Itoa(h.Requests), "success", strconv.Itoa(h.Success), "none", strconv.Itoa(h.None), "failed", strconv.Itoa(h.Failed))
	}
	impactPreview(env, rep.Impact)
}

// impactPreview says what enforcing would refuse, from the soft-phase log:
// requests through Cloudflare that did not verify would become errors for
// visitors (a warning: fix before enforcing); direct ones are what
// enforcing is meant to stop.
func impactPreview(env *Env, imp evidence.Impact) {
	kv := []string{"check", "impact", "cloudflare", strconv.Itoa(imp.Cloudflare), "direct", strconv.Itoa(imp.Direct),
		"top_direct", clientList(imp.TopDirect), "top_cloudflare", clientList(imp.TopCloudflare)}
	msg := fmt.Sprintf("enforce preview: %d requests through Cloudflare and %d direct ones in the soft phase would have been refused", imp.Cloudflare, imp.Direct)
	if len(imp.TopDirect) > 0 {
		msg += "; direct from " + clientList(imp.TopDirect)
	}
	if imp.Cloudflare > 0 {
		env.warn(msg+"; through Cloudflare from "+clientList(imp.TopCloudflare)+": those would fail once enforced", kv...)
		return
	}
	env.info(msg, kv...)
}

func clientList(cs []evidence.ClientCount) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s ×%d", c.Client, c.Requests)
	}
	return strings.Join(parts, ", ")
}

// Check: verification has no effect in the world; a done verify stays done.
func (verifyStep) Check(_ context.Context, env *Env) (bool, error) {
	st := env.Rollout.Step(StepVerify)
	return st != nil && st.Status == StatusDone, nil
}

func (verifyStep) Undo(context.Context, *Env) error { return nil }
