package steps

import (
	"context"
	"fmt"

	"github.com/aopwizard/aopwizard/cfapi"
)

// alertsStep adds the notification policy Cloudflare sends 30 and 14 days
// before the uploaded certificate expires.
type alertsStep struct{}

func (alertsStep) Name() StepName { return StepAlerts }

func alertType(m Mode) string {
	if m == ModeHostname {
		return cfapi.AlertHostnameCertExpiry
	}
	return cfapi.AlertZoneCertExpiry
}

func (alertsStep) Run(ctx context.Context, env *Env) error {
	r := env.Rollout
	if r.Inputs.AlertsEmail == "" {
		return ErrSkip
	}
	p, _, err := env.API.EnsureAlertPolicy(critical(ctx), r.Zone.AccountID, cfapi.AlertPolicySpec{
		// The rollout id in the name makes a policy found by name this
		// rollout's own, even when a crash lost the answer that created it.
		Name:        "aopwizard: AOP certificate expiry for " + r.Zone.Name + " (" + r.ID + ")",
		Description: "Added by aopwizard rollout " + r.ID,
		AlertType:   alertType(r.Inputs.Mode),
		Emails:      []string{r.Inputs.AlertsEmail},
	})
	if err != nil {
		return fail(fmt.Errorf("add the expiry notification policy: %w", err), "give the token Notifications Write, or skip alerts")
	}
	r.Changes.AlertPolicyID = p.ID
	r.Changes.AlertPolicyCreated = true
	env.info("expiry notifications go to "+r.Inputs.AlertsEmail, "policy_id", p.ID)
	return nil
}

func (alertsStep) Check(_ context.Context, env *Env) (bool, error) {
	return env.Rollout.Changes.AlertPolicyID != "", nil
}

func (alertsStep) Undo(ctx context.Context, env *Env) error {
	r := env.Rollout
	if !r.Changes.AlertPolicyCreated || r.Changes.AlertPolicyID == "" {
		return nil
	}
	if err := env.API.DeleteAlertPolicy(ctx, r.Zone.AccountID, r.Changes.AlertPolicyID); err != nil && !cfapi.IsKind(err, cfapi.KindNotFound) {
		return fmt.Errorf("delete the notification policy: %w", err)
	}
	env.info("deleted the notification policy", "policy_id", r.Changes.AlertPolicyID)
	r.Changes.AlertPolicyID, r.Changes.AlertPolicyCreated = "", false
	return nil
}
