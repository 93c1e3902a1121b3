package cfapi_test

import (
	"fmt"
	"testing"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// Reading the statuses of a certificate's 100 hostnames (as a rollout's
// verify step does) costs one page of the association list, not a request
// per hostname; where the list is not served, it still reads every one.
func TestHostnameStatusesReadsTheListNotEachHostname(t *testing.T) {
	t.Parallel()
	certs, _ := associateInput(t)
	hosts := make([]string, cfsim.MaxHostnamesPerCert)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("s%03d.%s", i, zoneName)
	}
	for _, tc := range []struct {
		name     string
		hideList bool
		max      int
	}{
		{"list served", false, 1},
		{"list not served", true, 1 + len(hosts)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfsim.Options{HideAssociationList: tc.hideList}, nil)
			up, err := h.c.UploadCertificate(ctxT(t), h.zoneID, cfapi.LevelHostname, certs[0].cert, certs[0].key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.c.WaitActive(ctxT(t), h.zoneID, up.Ref(), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := h.c.EnableHostnames(ctxT(t), h.zoneID, up.ID, hosts); err != nil {
				t.Fatal(err)
			}
			before := len(h.sim.Requests())
			sts, err := h.c.HostnameStatuses(ctxT(t), h.zoneID, hosts)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range sts {
				if st.Hostname != hosts[i] || !st.Active() || st.CertID != up.ID {
					t.Fatalf("status %d: %+v, want %s active on %s", i, st, hosts[i], up.ID)
				}
			}
			if calls := len(h.sim.Requests()) - before; calls > tc.max {
				t.Errorf("%d requests to read %d hostnames, want at most %d", calls, len(hosts), tc.max)
			}
		})
	}
}
