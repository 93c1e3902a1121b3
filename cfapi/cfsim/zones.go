package cfsim

import (
	"net/http"
	"slices"
	"strings"

	"github.com/aopwizard/aopwizard/cfapi"
)

// tokenResult is the verify result (docs/cloudflare-api.md, "Token
// verification"). The token never expires
// in the simulator; expires_on is omitted as for a token without expiry.
type tokenResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (s *Sim) tokenResult() tokenResult {
	return tokenResult{ID: derivedID("token", s.opts.Seed), Status: "active"}
}

func (s *Sim) verifyUserToken(c *call) (reply, error) {
	if c.who.accountToken {
		return reply{}, fail(http.StatusUnauthorized, CodeInvalidToken, "Invalid API Token")
	}
	return reply{result: s.tokenResult()}, nil
}

func (s *Sim) verifyAccountToken(c *call) (reply, error) {
	if c.params["account_id"] != s.accountID {
		return reply{}, fail(http.StatusUnauthorized, CodeInvalidToken, "Invalid API Token")
	}
	if !c.who.accountToken {
		// A user token is not an account token: symmetrical to the user
		// endpoint's answer to account tokens (cfsim's reading of
		// cloudflare-docs#29486).
		return reply{}, fail(http.StatusUnauthorized, CodeInvalidToken, "Invalid API Token")
	}
	return reply{result: s.tokenResult()}, nil
}

// zoneObject is a zone as GET /zones returns it, with every field the spec
// marks required.
func (s *Sim) zoneObject(z *zone) map[string]any {
	created := timestamp(z.created)
	return map[string]any{
		"id":                    z.id,
		"name":                  z.name,
		"status":                "active",
		"paused":                false,
		"type":                  "full",
		"development_mode":      0,
		"name_servers":          []string{"ada.ns.cloudflare.com", "bob.ns.cloudflare.com"},
		"original_name_servers": nil,
		"original_registrar":    nil,
		"original_dnshost":      nil,
		"created_on":            created,
		"modified_on":           created,
		"activated_on":          created,
		"meta":                  map[string]any{"step": 2, "custom_certificate_quota": 1, "page_rule_quota": 3, "phishing_detected": false},
		"owner":                 map[string]any{"id": derivedID("user", s.opts.Seed), "type": "user", "name": "cfsim user"},
		"account":               map[string]any{"id": s.accountID, "name": "cfsim account"},
		"permissions":           []string{},
		"plan": map[string]any{
			"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0, "currency": "USD",
			"frequency": "", "is_subscribed": false, "can_subscribe": false, "legacy_id": "free",
			"legacy_discount": false, "externally_managed": false,
		},
	}
}

// listZones honours name (exact, or Cloudflare's contains:/starts_with:/
// ends_with: operators), account.id, status, page and per_page.
func (s *Sim) listZones(c *call) (reply, error) {
	q := c.r.URL.Query()
	pg, err := queryInt(c.r, "page", 1, 1, 1<<30)
	if err != nil {
		return reply{}, err
	}
	per, err := queryInt(c.r, "per_page", 20, 5, 50)
	if err != nil {
		return reply{}, err
	}
	name := strings.ToLower(q.Get("name"))
	var names []string
	for n := range s.byName {
		if s.canSee(c.who, n) && nameMatches(n, name) {
			names = append(names, n)
		}
	}
	if a := q.Get("account.id"); a != "" && a != s.accountID {
		names = nil
	}
	if st := q.Get("status"); st != "" && st != "active" {
		names = nil
	}
	slices.Sort(names)
	if q.Get("direction") == "desc" {
		slices.Reverse(names)
	}
	objs := make([]map[string]any, 0, len(names))
	for _, n := range names {
		objs = append(objs, s.zoneObject(s.byName[n]))
	}
	out, info := page(objs, pg, per)
	return reply{result: out, info: info}, nil
}

func nameMatches(zone, q string) bool {
	switch {
	case q == "":
		return true
	case strings.HasPrefix(q, "contains:"):
		return strings.Contains(zone, strings.TrimPrefix(q, "contains:"))
	case strings.HasPrefix(q, "starts_with:"):
		return strings.HasPrefix(zone, strings.TrimPrefix(q, "starts_with:"))
	case strings.HasPrefix(q, "ends_with:"):
		return strings.HasSuffix(zone, strings.TrimPrefix(q, "ends_with:"))
	}
	return zone == q
}

func (s *Sim) getZone(c *call) (reply, error) { return reply{result: s.zoneObject(c.zone)}, nil }

// settingValues lists the values each simulated zone setting accepts.
var settingValues = map[string][]string{
	"ssl":             cfapi.SSLModes(),
	"tls_client_auth": {"on", "off"},
}

func (s *Sim) settingPtr(c *call) (*setting, string, error) {
	id := c.params["setting_id"]
	switch id {
	case "ssl":
		return &c.zone.ssl, id, nil
	case "tls_client_auth":
		return &c.zone.tlsClientAuth, id, nil
	}
	return nil, id, notFound("/zones/" + c.zone.id + "/settings/" + id)
}

func settingObject(id string, st *setting) map[string]any {
	var mod any
	if st.modified != nil {
		mod = timestamp(*st.modified)
	}
	return map[string]any{"id": id, "value": st.value, "editable": true, "modified_on": mod}
}

func (s *Sim) getSetting(c *call) (reply, error) {
	st, id, err := s.settingPtr(c)
	if err != nil {
		return reply{}, err
	}
	return reply{result: settingObject(id, st)}, nil
}

func (s *Sim) patchSetting(c *call) (reply, error) {
	st, id, err := s.settingPtr(c)
	if err != nil {
		return reply{}, err
	}
	var body struct {
		Value any `json:"value"`
	}
	if err := decode(c.body, &body); err != nil {
		return reply{}, err
	}
	v, ok := body.Value.(string)
	if !ok || !slices.Contains(settingValues[id], v) {
		return reply{}, fail(http.StatusBadRequest, CodeInvalidSettingValue,
			"Invalid value for zone setting "+id+": must be one of "+strings.Join(settingValues[id], ", "))
	}
	now := s.clock()
	st.value, st.modified = v, &now
	return reply{result: settingObject(id, st)}, nil
}
