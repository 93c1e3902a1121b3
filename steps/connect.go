package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/aopwizard/aopwizard/cfapi"
)

// connectStep verifies the credentials, looks the zone up and checks the
// SSL/TLS encryption mode, under which Cloudflare presents client
// certificates only from Full up (docs/cloudflare-api.md "Zone settings").
type connectStep struct{}

func (connectStep) Name() StepName { return StepConnect }

func (connectStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	tok, err := env.API.VerifyToken(ctx, r.Zone.AccountID)
	needAccount := errors.Is(err, cfapi.ErrAccountIDNeeded)
	if err != nil && !needAccount {
		return fail(fmt.Errorf("the API credentials do not work: %w", err), "create an API token with SSL and Certificates Write, Zone Settings Write (and Notifications Write for alerts) for the zone")
	}
	zone, err := env.API.FindZone(ctx, r.Inputs.Zone)
	if err != nil {
		if cfapi.IsKind(err, cfapi.KindNotFound) {
			return badInput(fmt.Errorf("zone %s is not in the account, or the token cannot see it: %w", r.Inputs.Zone, err),
				"check the zone name, or give the token access to this zone")
		}
		return fail(fmt.Errorf("look up zone %s: %w", r.Inputs.Zone, err), "")
	}
	if needAccount {
		if tok, err = env.API.VerifyToken(ctx, zone.AccountID); err != nil {
			return fail(fmt.Errorf("the account API token does not work: %w", err), "check the token in the account's API tokens page")
		}
	}
	r.Zone = ZoneInfo{Name: zone.Name, ID: zone.ID, AccountID: zone.AccountID, Plan: zone.Plan, SSLMode: r.Zone.SSLMode}
	env.info("credentials verified; zone "+zone.Name+" found (id "+zone.ID+", plan "+orUnknown(zone.Plan)+")", "zone_id", zone.ID, "account_id", zone.AccountID, "plan", zone.Plan, "token", string(tok.Kind))
	if zone.Status != "" && zone.Status != "active" {
		env.warn(fmt.Sprintf("zone %s is %s, not active: Cloudflare proxies no traffic for it yet", zone.Name, zone.Status))
	}

	ssl, err := env.API.SSLMode(ctx, zone.ID)
	if err != nil {
		return fail(fmt.Errorf("read the SSL/TLS encryption mode: %w", err), "")
	}
	if r.Changes.SSLModeBefore == "" {
		r.Changes.SSLModeBefore = ssl.Value
	}
	r.Zone.SSLMode = ssl.Value
	// Full lets AOP work but leaves the origin's certificate unchecked: the
	// consent to Full (strict) covers it as it covers Off and Flexible.
	switch {
	case ssl.Value == cfapi.SSLFull && !r.Inputs.SetSSLStrict:
		env.warn("the SSL/TLS encryption mode is Full: Cloudflare does not check the origin's certificate; Full (strict) is recommended with AOP", "ssl_mode", ssl.Value)
	case ssl.Value != cfapi.SSLFull && cfapi.SSLModeAllowsAOP(ssl.Value):
		env.info("SSL/TLS encryption mode "+ssl.Value+" lets Cloudflare present client certificates", "ssl_mode", ssl.Value)
	case r.Inputs.SetSSLStrict && env.DryRun:
		env.warn("the SSL/TLS encryption mode is "+ssl.Value+"; the rollout will switch it to Full (strict)", "ssl_mode", ssl.Value)
	case r.Inputs.SetSSLStrict:
		if _, err := env.API.SetSSLMode(critical(ctx), zone.ID, "strict"); err != nil {
			return fail(fmt.Errorf("switch the SSL/TLS encryption mode to Full (strict): %w", err), "")
		}
		r.Changes.SSLModeSet, r.Zone.SSLMode = true, "strict"
		env.info("switched the SSL/TLS encryption mode from "+ssl.Value+" to Full (strict), as agreed", "ssl_mode_before", ssl.Value, "ssl_mode", "strict")
	default:
		return needsInput(fmt.Errorf("the zone's SSL/TLS encryption mode is %s: Cloudflare presents no client certificate under Off or Flexible, so AOP cannot work", ssl.Value),
			"make sure the origin serves HTTPS with a valid certificate, then switch the zone to Full (strict) in the dashboard (SSL/TLS > Overview), or consent to aopwizard switching it to Full (strict)", "set ssl mode")
	}
	return nil
}

// ConsentSSLStrict records the operator's consent to switch the zone to
// Full (strict). Given after connect found the zone at Full, where connect
// only warned, it makes connect run again to switch it (resume with the
// consent, the wizard's fix on the connect screen).
func (r *Rollout) ConsentSSLStrict() {
	r.Inputs.SetSSLStrict = true
	if st := r.Step(StepConnect); st != nil && st.Status == StatusDone && r.Zone.SSLMode == cfapi.SSLFull && !r.Changes.SSLModeSet {
		st.Status = StatusPending
	}
}

// Check re-verifies the token and the zone: cheap, and a resume needs
// working credentials anyway.
func (connectStep) Check(ctx context.Context, env *Env) (bool, error) {
	r := env.Rollout
	if r.Zone.ID == "" {
		return false, nil
	}
	if _, err := env.API.VerifyToken(ctx, r.Zone.AccountID); err != nil {
		return false, err
	}
	ssl, err := env.API.SSLMode(ctx, r.Zone.ID)
	if err != nil {
		return false, err
	}
	return cfapi.SSLModeAllowsAOP(ssl.Value), nil
}

// Undo restores the SSL mode, only when this rollout changed it.
func (connectStep) Undo(ctx context.Context, env *Env) error {
	r := env.Rollout
	if !r.Changes.SSLModeSet {
		return nil
	}
	if _, err := env.API.SetSSLMode(critical(ctx), r.Zone.ID, r.Changes.SSLModeBefore); err != nil {
		return fmt.Errorf("restore the SSL/TLS encryption mode %s: %w", r.Changes.SSLModeBefore, err)
	}
	env.info("restored the SSL/TLS encryption mode " + r.Changes.SSLModeBefore)
	r.Changes.SSLModeSet = false
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
