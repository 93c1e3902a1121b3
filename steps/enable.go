package steps

import (
	"context"
	"fmt"
	"slices"

	"github.com/aopwizard/aopwizard/cfapi"
)

// enableStep turns AOP on at Cloudflare: the global toggle, the zone-level
// setting, or the per-hostname associations (batched by cfapi), and waits
// until the associations are active.
type enableStep struct{}

func (enableStep) Name() StepName { return StepEnable }

func (enableStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	zone := r.Zone.ID
	switch r.Inputs.Mode {
	case ModeGlobal:
		return turnTLSClientAuthOn(ctx, env, "global AOP")
	case ModeZone:
		on, err := env.API.ZoneAOPEnabled(ctx, zone)
		if err != nil {
			return fail(fmt.Errorf("read zone-level AOP: %w", err), "")
		}
		if on {
			env.info("zone-level AOP is already on")
			return nil
		}
		r.Changes.ZoneAOPSet = true
		if err := env.checkpoint(); err != nil {
			return err
		}
		if _, err := env.API.SetZoneAOPEnabled(critical(ctx), zone, true); err != nil {
			return fail(fmt.Errorf("turn zone-level AOP on: %w", err), "")
		}
		env.info("turned zone-level AOP on")
	case ModeHostname:
		if r.Inputs.LegacyZoneToggle {
			// Older docs: the zone's toggle first, then the hostnames.
			if err := turnTLSClientAuthOn(ctx, env, "the zone's AOP toggle (legacy)"); err != nil {
				return err
			}
		}
		var all []string
		for _, c := range r.Certificates {
			r.Changes.HostnamesEnabled = appendNew(r.Changes.HostnamesEnabled, c.Hostnames...)
			if err := env.checkpoint(); err != nil {
				return err
			}
			if _, err := env.API.EnableHostnames(critical(ctx), zone, c.ID, c.Hostnames); err != nil {
				return fail(fmt.Errorf("associate the hostnames with certificate %s: %w", c.ID, err), "")
			}
			env.info(fmt.Sprintf("associated %d hostname(s) with certificate %s", len(c.Hostnames), c.ID), "cert_id", c.ID)
			all = append(all, c.Hostnames...)
		}
		if _, err := env.API.WaitHostnamesActive(ctx, zone, all, func(h cfapi.HostnameStatus) {
			env.info(h.Hostname+": "+string(h.Status), "hostname", h.Hostname, "status", string(h.Status), "cert_status", string(h.CertStatus))
		}); err != nil {
			return fail(fmt.Errorf("the hostname associations did not become active: %w", err), "resume to wait again")
		}
		env.info("every hostname association is active")
	}
	return nil
}

// turnTLSClientAuthOn turns the zone's tls_client_auth setting on unless it
// is, recording that this rollout did.
func turnTLSClientAuthOn(ctx context.Context, env *Env, what string) error {
	r := env.Rollout
	s, err := env.API.TLSClientAuth(ctx, r.Zone.ID)
	if err != nil {
		return fail(fmt.Errorf("read %s: %w", what, err), "")
	}
	if s.Value == "on" {
		env.info(what + " is already on")
		return nil
	}
	r.Changes.TLSClientAuthSet = true
	if err := env.checkpoint(); err != nil {
		return err
	}
	if _, err := env.API.SetTLSClientAuth(critical(ctx), r.Zone.ID, true); err != nil {
		return fail(fmt.Errorf("turn %s on: %w", what, err), "")
	}
	env.info("turned " + what + " on")
	return nil
}

func appendNew(s []string, v ...string) []string {
	seen := map[string]bool{}
	for _, x := range s {
		seen[x] = true
	}
	for _, x := range v {
		if !seen[x] {
			seen[x] = true
			s = append(s, x)
		}
	}
	return s
}

func (enableStep) Check(ctx context.Context, env *Env) (bool, error) {
	r := env.Rollout
	switch r.Inputs.Mode {
	case ModeGlobal:
		s, err := env.API.TLSClientAuth(ctx, r.Zone.ID)
		return err == nil && s.Value == "on", err
	case ModeZone:
		return env.API.ZoneAOPEnabled(ctx, r.Zone.ID)
	}
	if r.Inputs.LegacyZoneToggle {
		s, err := env.API.TLSClientAuth(ctx, r.Zone.ID)
		if err != nil || s.Value != "on" {
			return false, err
		}
	}
	for _, c := range r.Certificates {
		sts, err := env.API.HostnameStatuses(ctx, r.Zone.ID, c.Hostnames)
		if err != nil {
			return false, err
		}
		for _, s := range sts {
			if !s.Active() || s.CertID != c.ID {
				return false, nil
			}
		}
	}
	return true, nil
}

// Undo turns off only what this rollout turned on, and voids only the
// associations it made (before the certificates can be deleted).
func (enableStep) Undo(ctx context.Context, env *Env) error {
	r := env.Rollout
	zone := r.Zone.ID
	if r.Changes.TLSClientAuthSet {
		if _, err := env.API.SetTLSClientAuth(critical(ctx), zone, false); err != nil {
			return fmt.Errorf("turn global AOP off: %w", err)
		}
		r.Changes.TLSClientAuthSet = false
		env.info("turned global AOP off")
	}
	if r.Changes.ZoneAOPSet {
		if _, err := env.API.SetZoneAOPEnabled(critical(ctx), zone, false); err != nil {
			return fmt.Errorf("turn zone-level AOP off: %w", err)
		}
		r.Changes.ZoneAOPSet = false
		env.info("turned zone-level AOP off")
	}
	if len(r.Changes.HostnamesEnabled) > 0 {
		for _, c := range r.Certificates {
			var ours []string
			for _, h := range c.Hostnames {
				if slices.Contains(r.Changes.HostnamesEnabled, h) {
					ours = append(ours, h)
				}
			}
			if len(ours) == 0 || c.ID == "" {
				continue
			}
			if _, err := env.API.VoidHostnames(ctx, zone, c.ID, ours); err != nil && !cfapi.IsKind(err, cfapi.KindNotFound) {
				return fmt.Errorf("void the hostname associations of certificate %s: %w", c.ID, err)
			}
			env.info(fmt.Sprintf("voided %d hostname association(s)", len(ours)), "cert_id", c.ID)
		}
		r.Changes.HostnamesEnabled = nil
	}
	return nil
}
