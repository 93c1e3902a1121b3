package main

import (
	"testing"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// --legacy-zone-toggle: in hostname mode the zone's tls_client_auth is
// turned on as well (older docs' step 3), the hostname still gets its own
// certificate at the edge, and rollback turns the toggle off again; when
// the toggle was already on, rollback leaves it on. Outside hostname mode
// the flag is bad input and nothing is touched.
func TestRunLegacyZoneToggle(t *testing.T) {
	for _, initially := range []string{"off", "on"} {
		t.Run("initially-"+initially, func(t *testing.T) {
			l := newRunLab(t, cfsim.Options{DeployAfter: 1, TLSClientAuth: initially})
			res := runCLI(t, l.args("hostname", "--hostname", "a.example.test", "--legacy-zone-toggle", "--enforce")...)
			res.expect(t, 0, "enforced, verified")
			if got := l.sim.TLSClientAuth(runZone); got != "on" {
				t.Fatalf("tls_client_auth %s after the rollout, want on", got)
			}
			if initially == "off" {
				res.expect(t, 0, "turned the zone's AOP toggle (legacy) on")
			}
			id := l.rolloutIDs(t)[0]
			runCLI(t, "rollback", id, "--state-dir", l.stateDir, "--yes").expect(t, 0, "rolled back")
			if got := l.sim.TLSClientAuth(runZone); got != initially {
				t.Fatalf("tls_client_auth %s after rollback, want %s as before", got, initially)
			}
		})
	}
	t.Run("zone-mode", func(t *testing.T) {
		l := newRunLab(t, cfsim.Options{})
		runCLI(t, l.args("zone", "--hostname", "a.example.test", "--legacy-zone-toggle")...).expect(t, 2, "--legacy-zone-toggle", "hostname mode only")
		if n := len(l.sim.Requests()); n != 0 {
			t.Fatalf("%d API requests for bad input", n)
		}
	})
}

// Without the flag a hostname rollout leaves tls_client_auth alone.
func TestRunHostnameLeavesZoneToggleAlone(t *testing.T) {
	l := newRunLab(t, cfsim.Options{})
	runCLI(t, l.args("hostname", "--hostname", "a.example.test")...).expect(t, 0, "verified")
	if got := l.sim.TLSClientAuth(runZone); got != "off" {
		t.Fatalf("tls_client_auth %s, want off", got)
	}
}
