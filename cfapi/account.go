package cfapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/alerting"
	"github.com/cloudflare/cloudflare-go/v7/zones"
)

// ErrAccountIDNeeded means the token is (or may be) an account token, which
// only /accounts/{account_id}/tokens/verify accepts: call VerifyToken again
// with the account ID from FindZone.
var ErrAccountIDNeeded = errors.New("account token: verification needs the account ID")

type tokenJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	NotBefore cfTime `json:"not_before"`
	ExpiresOn cfTime `json:"expires_on"`
}

// VerifyToken implements Client. The global API key has no verify call, so
// it is checked by listing zones.
func (c *SDKClient) VerifyToken(ctx context.Context, accountID string) (TokenInfo, error) {
	if c.cfg.Scheme() == AuthGlobalKey {
		op := &opSpec{name: "check the global API key", method: http.MethodGet, path: "zones", perm: PermZoneRead, idempotent: true}
		_, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[[]zoneJSON]) error {
			var p zones.ZoneListParams
			p.PerPage.Value, p.PerPage.Present = 5, true
			_, err := c.zones.List(ctx, p, at.opts(env)...)
			return err
		})
		if err != nil {
			return TokenInfo{}, err
		}
		return TokenInfo{Kind: TokenGlobalKey, Status: "active"}, nil
	}
	tok := c.cfg.Token
	if strings.HasPrefix(tok, "cfat_") {
		if accountID == "" {
			return TokenInfo{Kind: TokenAccount}, fmt.Errorf("verify API token: %w", ErrAccountIDNeeded)
		}
		return c.verifyAccountToken(ctx, accountID)
	}
	info, err := c.verifyUserToken(ctx)
	if err == nil || strings.HasPrefix(tok, "cfut_") || !IsKind(err, KindInvalidCredentials) {
		return info, err
	}
	// A legacy (unprefixed) token the user endpoint rejects may be an
	// account token.
	if accountID == "" {
		return TokenInfo{Kind: TokenAccount}, fmt.Errorf("verify API token: the user endpoint rejected it, so it may be an account token: %w", ErrAccountIDNeeded)
	}
	return c.verifyAccountToken(ctx, accountID)
}

func (c *SDKClient) verifyUserToken(ctx context.Context) (TokenInfo, error) {
	op := &opSpec{name: "verify API token", method: http.MethodGet, path: "user/tokens/verify", idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[tokenJSON]) error {
		_, err := c.userTokens.Verify(ctx, at.opts(env)...)
		return err
	})
	return c.tokenInfo(op, TokenUser, res, err)
}

func (c *SDKClient) verifyAccountToken(ctx context.Context, accountID string) (TokenInfo, error) {
	op := &opSpec{name: "verify account API token", method: http.MethodGet, path: "accounts/{account_id}/tokens/verify", idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[tokenJSON]) error {
		var p accounts.TokenVerifyParams
		p.AccountID.Value, p.AccountID.Present = accountID, true
		_, err := c.accountTokens.Verify(ctx, p, at.opts(env)...)
		return err
	})
	return c.tokenInfo(op, TokenAccount, res, err)
}

func (c *SDKClient) tokenInfo(op *opSpec, kind TokenKind, res tokenJSON, err error) (TokenInfo, error) {
	if err != nil {
		return TokenInfo{Kind: kind}, err
	}
	info := TokenInfo{Kind: kind, ID: res.ID, Status: res.Status, NotBefore: res.NotBefore.Time, ExpiresOn: res.ExpiresOn.Time}
	if info.Status != "active" {
		return info, &APIError{Op: op.name, Kind: KindTokenInactive,
			Explanation: fmt.Sprintf("the API token is %s", orUnknown(info.Status)),
			Remedy:      "enable or roll the token at https://dash.cloudflare.com/profile/api-tokens, or create a new one"}
	}
	return info, nil
}

type zoneJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Paused  bool   `json:"paused"`
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
	Plan struct {
		Name string `json:"name"`
	} `json:"plan"`
}

// FindZone implements Client.
func (c *SDKClient) FindZone(ctx context.Context, name string) (Zone, error) {
	name = normalHost(name)
	if name == "" || len(name) > 253 || strings.ContainsAny(name, " /:") {
		return Zone{}, fmt.Errorf("invalid zone name %q: want the apex domain as in the Cloudflare dashboard, e.g. example.com", name)
	}
	op := &opSpec{name: "look up zone " + name, method: http.MethodGet, path: "zones", perm: PermZoneRead, idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[[]zoneJSON]) error {
		var p zones.ZoneListParams
		p.Name.Value, p.Name.Present = name, true
		_, err := c.zones.List(ctx, p, at.opts(env)...)
		return err
	})
	if err != nil {
		return Zone{}, err
	}
	for _, z := range res {
		if strings.EqualFold(z.Name, name) {
			return Zone{ID: z.ID, Name: z.Name, Status: z.Status, Paused: z.Paused, Plan: z.Plan.Name,
				AccountID: z.Account.ID, AccountName: z.Account.Name}, nil
		}
	}
	e := &APIError{Op: op.name, Method: op.method, Path: op.path, Kind: KindNotFound, Permission: op.perm,
		Explanation: "no zone named " + name + " is visible to these credentials",
		Remedy: "check the spelling (the apex domain, not a subdomain) and that the token's zone resources include it, with " +
			PermZoneRead + " or any other zone permission"}
	return Zone{}, e
}

type policyJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	AlertType  string `json:"alert_type"`
	Enabled    bool   `json:"enabled"`
	Mechanisms struct {
		Email []struct {
			ID string `json:"id"`
		} `json:"email"`
	} `json:"mechanisms"`
}

func (j policyJSON) policy() AlertPolicy {
	p := AlertPolicy{ID: j.ID, Name: j.Name, AlertType: j.AlertType, Enabled: j.Enabled}
	for _, e := range j.Mechanisms.Email {
		p.Emails = append(p.Emails, e.ID)
	}
	return p
}

const policiesPath = "accounts/{account_id}/alerting/v3/policies"

// ListAlertPolicies implements Client.
func (c *SDKClient) ListAlertPolicies(ctx context.Context, accountID string) ([]AlertPolicy, error) {
	op := &opSpec{name: "list notification policies", method: http.MethodGet, path: policiesPath,
		perm: PermNotificationsWrite, idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[[]policyJSON]) error {
		var p alerting.PolicyListParams
		p.AccountID.Value, p.AccountID.Present = accountID, true
		_, err := c.policies.List(ctx, p, at.opts(env)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]AlertPolicy, len(res))
	for i, j := range res {
		out[i] = j.policy()
	}
	return out, nil
}

func (c *SDKClient) findPolicy(ctx context.Context, accountID, alertType, name string) (AlertPolicy, bool, error) {
	ps, err := c.ListAlertPolicies(ctx, accountID)
	if err != nil {
		return AlertPolicy{}, false, err
	}
	for _, p := range ps {
		if p.AlertType == alertType && p.Name == name {
			return p, true, nil
		}
	}
	return AlertPolicy{}, false, nil
}

// EnsureAlertPolicy implements Client.
func (c *SDKClient) EnsureAlertPolicy(ctx context.Context, accountID string, spec AlertPolicySpec) (AlertPolicy, bool, error) {
	const what = "create notification policy"
	switch {
	case spec.Name == "":
		return AlertPolicy{}, false, errors.New(what + ": the policy needs a name")
	case spec.AlertType == "":
		return AlertPolicy{}, false, errors.New(what + ": the policy needs an alert type, e.g. " + AlertZoneCertExpiry)
	case len(spec.Emails)+len(spec.WebhookIDs)+len(spec.PagerDuty) == 0:
		return AlertPolicy{}, false, errors.New(what + ": give at least one email address, webhook or PagerDuty destination to notify")
	}
	if p, ok, err := c.findPolicy(ctx, accountID, spec.AlertType, spec.Name); err != nil || ok {
		return p, false, err
	}
	op := &opSpec{name: what + " " + spec.Name, method: http.MethodPost, path: policiesPath, perm: PermNotificationsWrite}
	var found AlertPolicy
	op.landed = func(ctx context.Context) (bool, error) {
		var ok bool
		var err error
		found, ok, err = c.findPolicy(ctx, accountID, spec.AlertType, spec.Name)
		return ok, err
	}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[policyJSON]) error {
		var mech alerting.MechanismParam
		if len(spec.Emails) > 0 {
			v := make([]alerting.MechanismEmailParam, len(spec.Emails))
			for i, e := range spec.Emails {
				v[i].ID.Value, v[i].ID.Present = e, true
			}
			mech.Email.Value, mech.Email.Present = v, true
		}
		if len(spec.WebhookIDs) > 0 {
			v := make([]alerting.MechanismWebhookParam, len(spec.WebhookIDs))
			for i, e := range spec.WebhookIDs {
				v[i].ID.Value, v[i].ID.Present = e, true
			}
			mech.Webhooks.Value, mech.Webhooks.Present = v, true
		}
		if len(spec.PagerDuty) > 0 {
			v := make([]alerting.MechanismPagerdutyParam, len(spec.PagerDuty))
			for i, e := range spec.PagerDuty {
				v[i].ID.Value, v[i].ID.Present = e, true
			}
			mech.Pagerduty.Value, mech.Pagerduty.Present = v, true
		}
		var p alerting.PolicyNewParams
		p.AccountID.Value, p.AccountID.Present = accountID, true
		p.Name.Value, p.Name.Present = spec.Name, true
		p.AlertType.Value, p.AlertType.Present = alerting.PolicyNewParamsAlertType(spec.AlertType), true
		p.Enabled.Value, p.Enabled.Present = true, true
		p.Mechanisms.Value, p.Mechanisms.Present = mech, true
		if spec.Description != "" {
			p.Description.Value, p.Description.Present = spec.Description, true
		}
		_, err := c.policies.New(ctx, p, at.opts(env)...)
		return err
	})
	switch {
	case errors.Is(err, errLanded):
		return found, true, nil
	case err != nil:
		return AlertPolicy{}, false, err
	}
	return AlertPolicy{ID: res.ID, Name: spec.Name, AlertType: spec.AlertType, Enabled: true, Emails: spec.Emails}, true, nil
}

// DeleteAlertPolicy implements Client.
func (c *SDKClient) DeleteAlertPolicy(ctx context.Context, accountID, policyID string) error {
	op := &opSpec{name: "delete notification policy " + policyID, method: http.MethodDelete,
		path: policiesPath + "/{policy_id}", perm: PermNotificationsWrite, idempotent: true}
	_, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[any]) error {
		var p alerting.PolicyDeleteParams
		p.AccountID.Value, p.AccountID.Present = accountID, true
		_, err := c.policies.Delete(ctx, policyID, p, at.opts(env)...)
		return err
	})
	if errors.Is(err, errAlreadyGone) {
		return nil
	}
	return err
}
