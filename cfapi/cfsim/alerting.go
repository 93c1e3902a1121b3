package cfsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// AOP alert types (docs/cloudflare-api.md, "Expiration alerts"); the
// simulator accepts these two and a
// few unrelated certificate types, and rejects anything else.
var alertTypes = []string{
	"zone_aop_custom_certificate_expiration_type",
	"hostname_aop_custom_certificate_expiration_type",
	"custom_ssl_certificate_event_type",
	"universal_ssl_event_type",
	"mtls_certificate_store_certificate_expiration_type",
}

type policy struct {
	ID            string                         `json:"id"`
	Name          string                         `json:"name"`
	Description   string                         `json:"description"`
	AlertType     string                         `json:"alert_type"`
	Enabled       bool                           `json:"enabled"`
	Mechanisms    map[string][]map[string]string `json:"mechanisms"`
	Filters       map[string]any                 `json:"filters"`
	AlertInterval string                         `json:"alert_interval,omitempty"`
	Created       string                         `json:"created"`
	Modified      string                         `json:"modified"`
}

type policyBody struct {
	Name          *string         `json:"name"`
	Description   *string         `json:"description"`
	AlertType     *string         `json:"alert_type"`
	Enabled       *bool           `json:"enabled"`
	Mechanisms    json.RawMessage `json:"mechanisms"`
	Filters       map[string]any  `json:"filters"`
	AlertInterval *string         `json:"alert_interval"`
}

// parsePolicy validates a create/update body into p.
func parsePolicy(body []byte, p *policy) error {
	var b policyBody
	if err := decode(body, &b); err != nil {
		return err
	}
	switch {
	case b.Name == nil || strings.TrimSpace(*b.Name) == "":
		return fail(http.StatusBadRequest, CodeInvalidRequest, "name is required")
	case b.AlertType == nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "alert_type is required")
	case !slices.Contains(alertTypes, *b.AlertType):
		return fail(http.StatusBadRequest, CodeInvalidAlertType, "invalid alert_type "+*b.AlertType)
	case b.Enabled == nil:
		return fail(http.StatusBadRequest, CodeInvalidRequest, "enabled is required")
	case len(b.Mechanisms) == 0 || string(b.Mechanisms) == "null":
		return fail(http.StatusBadRequest, CodeInvalidRequest, "mechanisms is required")
	}
	var mech map[string][]map[string]string
	if err := json.Unmarshal(b.Mechanisms, &mech); err != nil || len(mech) == 0 {
		return fail(http.StatusBadRequest, CodeInvalidRequest, `mechanisms must look like {"email":[{"id":"ops@example.com"}]}`)
	}
	for kind, targets := range mech {
		if !slices.Contains([]string{"email", "pagerduty", "webhooks"}, kind) || len(targets) == 0 {
			return fail(http.StatusBadRequest, CodeInvalidRequest, "invalid mechanism "+kind+": use email, pagerduty or webhooks with at least one id")
		}
		for _, t := range targets {
			if t["id"] == "" {
				return fail(http.StatusBadRequest, CodeInvalidRequest, "every "+kind+" mechanism needs an id")
			}
		}
	}
	p.Name, p.AlertType, p.Enabled, p.Mechanisms = *b.Name, *b.AlertType, *b.Enabled, mech
	p.Description, p.AlertInterval, p.Filters = "", "", b.Filters
	if b.Description != nil {
		p.Description = *b.Description
	}
	if b.AlertInterval != nil {
		p.AlertInterval = *b.AlertInterval
	}
	if p.Filters == nil {
		p.Filters = map[string]any{}
	}
	return nil
}

func (s *Sim) findPolicy(c *call) (int, error) {
	id := c.params["policy_id"]
	for i, p := range s.policies {
		if p.ID == id {
			return i, nil
		}
	}
	return 0, notFound("/accounts/" + s.accountID + "/alerting/v3/policies/" + id)
}

func (s *Sim) listPolicies(c *call) (reply, error) {
	out := make([]policy, 0, len(s.policies))
	for _, p := range s.policies {
		out = append(out, *p)
	}
	n := len(out)
	return reply{result: out, info: &resultInfo{Page: 1, PerPage: max(n, 25), Count: n, TotalCount: n, TotalPages: 1}}, nil
}

func (s *Sim) createPolicy(c *call) (reply, error) {
	p := &policy{}
	if err := parsePolicy(c.body, p); err != nil {
		return reply{}, err
	}
	p.ID = s.uuid()
	p.Created = timestamp(s.clock())
	p.Modified = p.Created
	s.policies = append(s.policies, p)
	return reply{result: map[string]string{"id": p.ID}}, nil
}

func (s *Sim) getPolicy(c *call) (reply, error) {
	i, err := s.findPolicy(c)
	if err != nil {
		return reply{}, err
	}
	return reply{result: *s.policies[i]}, nil
}

func (s *Sim) updatePolicy(c *call) (reply, error) {
	i, err := s.findPolicy(c)
	if err != nil {
		return reply{}, err
	}
	p := *s.policies[i]
	if err := parsePolicy(c.body, &p); err != nil {
		return reply{}, err
	}
	p.Modified = timestamp(s.clock())
	s.policies[i] = &p
	return reply{result: map[string]string{"id": p.ID}}, nil
}

func (s *Sim) deletePolicy(c *call) (reply, error) {
	i, err := s.findPolicy(c)
	if err != nil {
		return reply{}, err
	}
	s.policies = slices.Delete(s.policies, i, i+1)
	return reply{result: nil}, nil
}

// Policies returns the account's notification policies' alert types and
// names, for tests.
func (s *Sim) Policies() []PolicyInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PolicyInfo, 0, len(s.policies))
	for _, p := range s.policies {
		out = append(out, PolicyInfo{ID: p.ID, Name: p.Name, AlertType: p.AlertType, Enabled: p.Enabled})
	}
	return out
}

// PolicyInfo summarises a notification policy.
type PolicyInfo struct {
	ID, Name, AlertType string
	Enabled             bool
}
