package cfapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	ota "github.com/cloudflare/cloudflare-go/v7/origin_tls_client_auth"
	"github.com/cloudflare/cloudflare-go/v7/zones"
)

// The values of a zone's "ssl" setting, its SSL/TLS encryption mode.
// origin_pull is "Strict (SSL-Only Origin Pull)", which the 2024 API spec
// does not list but Cloudflare accepts.
const (
	SSLOff        = "off"
	SSLFlexible   = "flexible"
	SSLFull       = "full"
	SSLStrict     = "strict"
	SSLOriginPull = "origin_pull"
)

// SSLModes returns every SSL/TLS encryption mode, weakest first. It is the
// one list the client, the simulator and the CLI check modes against.
func SSLModes() []string {
	return []string{SSLOff, SSLFlexible, SSLFull, SSLStrict, SSLOriginPull}
}

// IsSSLMode reports whether mode is one of SSLModes.
func IsSSLMode(mode string) bool { return slices.Contains(SSLModes(), mode) }

// SSLModeAllowsAOP reports whether Cloudflare presents client certificates
// under the SSL/TLS encryption mode: only modes that connect to the origin
// over TLS do.
func SSLModeAllowsAOP(mode string) bool {
	return mode == SSLFull || mode == SSLStrict || mode == SSLOriginPull
}

// SSLModeVerifiesOrigin reports whether the mode validates the origin's
// certificate (Full (strict) and SSL-Only Origin Pull).
func SSLModeVerifiesOrigin(mode string) bool { return mode == SSLStrict || mode == SSLOriginPull }

type settingJSON struct {
	ID         string          `json:"id"`
	Value      json.RawMessage `json:"value"`
	Editable   *bool           `json:"editable"`
	ModifiedOn cfTime          `json:"modified_on"`
}

func (j settingJSON) setting() Setting {
	s := Setting{Editable: j.Editable == nil || *j.Editable, ModifiedOn: j.ModifiedOn.Time}
	if err := json.Unmarshal(j.Value, &s.Value); err != nil {
		s.Value = strings.Trim(string(j.Value), `"`)
	}
	return s
}

func (c *SDKClient) getSetting(ctx context.Context, zoneID, id string) (Setting, error) {
	op := &opSpec{name: "read zone setting " + id, method: http.MethodGet, path: "zones/{zone_id}/settings/" + id,
		perm: PermZoneSettingsRead, idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[settingJSON]) error {
		_, err := c.settings.Get(ctx, id, zones.SettingGetParams(zoneParams(zoneID)), at.opts(env)...)
		return err
	})
	return res.setting(), err
}

func (c *SDKClient) setSetting(ctx context.Context, zoneID, id, value string) (Setting, error) {
	op := &opSpec{name: "change zone setting " + id + " to " + value, method: http.MethodPatch,
		path: "zones/{zone_id}/settings/" + id, perm: PermZoneSettingsWrite, idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[settingJSON]) error {
		var body zones.SettingEditParamsBody
		body.Value.Value, body.Value.Present = value, true
		var p zones.SettingEditParams
		p.ZoneID.Value, p.ZoneID.Present = zoneID, true
		p.Body = body
		_, err := c.settings.Edit(ctx, id, p, at.opts(env)...)
		return err
	})
	return res.setting(), err
}

// SSLMode implements Client.
func (c *SDKClient) SSLMode(ctx context.Context, zoneID string) (Setting, error) {
	return c.getSetting(ctx, zoneID, "ssl")
}

// SetSSLMode implements Client.
func (c *SDKClient) SetSSLMode(ctx context.Context, zoneID, mode string) (Setting, error) {
	if !IsSSLMode(mode) {
		return Setting{}, fmt.Errorf("invalid SSL/TLS mode %q: want one of %s (AOP needs full, strict or origin_pull)",
			mode, strings.Join(SSLModes(), ", "))
	}
	return c.setSetting(ctx, zoneID, "ssl", mode)
}

// TLSClientAuth implements Client.
func (c *SDKClient) TLSClientAuth(ctx context.Context, zoneID string) (Setting, error) {
	return c.getSetting(ctx, zoneID, "tls_client_auth")
}

// SetTLSClientAuth implements Client.
func (c *SDKClient) SetTLSClientAuth(ctx context.Context, zoneID string, on bool) (Setting, error) {
	v := "off"
	if on {
		v = "on"
	}
	return c.setSetting(ctx, zoneID, "tls_client_auth", v)
}

type enabledJSON struct {
	Enabled bool `json:"enabled"`
}

// ZoneAOPEnabled implements Client.
func (c *SDKClient) ZoneAOPEnabled(ctx context.Context, zoneID string) (bool, error) {
	op := &opSpec{name: "read zone-level AOP setting", method: http.MethodGet,
		path: "zones/{zone_id}/origin_tls_client_auth/settings", perm: PermSSLRead, idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[enabledJSON]) error {
		_, err := c.aopSettings.Get(ctx, ota.SettingGetParams(zoneParams(zoneID)), at.opts(env)...)
		return err
	})
	return res.Enabled, err
}

// SetZoneAOPEnabled implements Client.
func (c *SDKClient) SetZoneAOPEnabled(ctx context.Context, zoneID string, enabled bool) (bool, error) {
	op := &opSpec{name: fmt.Sprintf("set zone-level AOP enabled=%t", enabled), method: http.MethodPut,
		path: "zones/{zone_id}/origin_tls_client_auth/settings", perm: PermSSLWrite, idempotent: true}
	res, _, err := call(ctx, c, op, func(ctx context.Context, at *attempt, env *envelope[enabledJSON]) error {
		var p ota.SettingUpdateParams
		p.ZoneID.Value, p.ZoneID.Present = zoneID, true
		p.Enabled.Value, p.Enabled.Present = enabled, true
		_, err := c.aopSettings.Update(ctx, p, at.opts(env)...)
		return err
	})
	return res.Enabled, err
}
