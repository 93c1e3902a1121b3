package cfapi_test

import (
	"context"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi"
)

// fakeSettings is all a step that only reads and sets the SSL mode has to
// fake: one role, not the whole Client.
type fakeSettings struct{ mode string }

func (f *fakeSettings) SSLMode(context.Context, string) (cfapi.Setting, error) {
	return cfapi.Setting{Value: f.mode, Editable: true}, nil
}

func (f *fakeSettings) SetSSLMode(_ context.Context, _ string, mode string) (cfapi.Setting, error) {
	f.mode = mode
	return cfapi.Setting{Value: mode, Editable: true}, nil
}

func (f *fakeSettings) TLSClientAuth(context.Context, string) (cfapi.Setting, error) {
	return cfapi.Setting{Value: "off"}, nil
}

func (f *fakeSettings) SetTLSClientAuth(context.Context, string, bool) (cfapi.Setting, error) {
	return cfapi.Setting{Value: "on"}, nil
}

// Client is made of role interfaces a step can depend on one at a time;
// the real client is each of them.
func TestClientRoles(t *testing.T) {
	t.Parallel()
	// Fakes of each role embed side by side into a whole Client.
	var roles struct {
		cfapi.Account
		cfapi.ZoneSettings
		cfapi.Certificates
		cfapi.ZoneAOP
		cfapi.Associations
		cfapi.Alerts
	}
	var c cfapi.Client = (*cfapi.SDKClient)(nil)
	roles.Account, roles.Certificates, roles.ZoneAOP, roles.Associations, roles.Alerts = c, c, c, c, c
	roles.ZoneSettings = &fakeSettings{}
	var _ cfapi.Client = roles
	var _ cfapi.ZoneCertificates = c
	var _ cfapi.HostnameCertificates = c

	// A step needing only the SSL mode runs on a one-role fake.
	ensureAOPMode := func(ctx context.Context, s cfapi.ZoneSettings, zoneID string) error {
		cur, err := s.SSLMode(ctx, zoneID)
		if err == nil && !cfapi.SSLModeAllowsAOP(cur.Value) {
			_, err = s.SetSSLMode(ctx, zoneID, cfapi.SSLStrict)
		}
		return err
	}
	f := &fakeSettings{mode: cfapi.SSLFlexible}
	if err := ensureAOPMode(context.Background(), f, "z"); err != nil || f.mode != cfapi.SSLStrict {
		t.Fatalf("mode %q, %v", f.mode, err)
	}
	if got := cfapi.SSLModes(); len(got) != 5 || !cfapi.IsSSLMode(cfapi.SSLOriginPull) || cfapi.IsSSLMode("strictest") {
		t.Fatalf("SSLModes() = %v", got)
	}
}
