package steps

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aopwizard/aopwizard/cfapi/cfsim"
)

// TestConnectFullModeSwitchesToStrictWithConsent: under Full, AOP works
// but Cloudflare does not check the origin's certificate. Without consent
// connect warns and leaves the mode; with it, given before connect or
// after, connect switches the zone to Full (strict) as for Off and
// Flexible, and rollback restores Full.
func TestConnectFullModeSwitchesToStrictWithConsent(t *testing.T) {
	for _, consent := range []bool{false, true} {
		t.Run(map[bool]string{false: "no consent", true: "consent"}[consent], func(t *testing.T) {
			l := newLab(t, cfsim.Options{SSLMode: "full"})
			in := l.inputs(ModeZone, "origin.example.test")
			in.SetSSLStrict = consent
			if ps := in.Validate(); len(ps) > 0 {
				t.Fatal(ps)
			}
			r := NewRollout(NewID(in.Zone, time.Now().UTC()), in, time.Now().UTC())
			h, err := l.store.Create(r)
			if err != nil {
				t.Fatal(err)
			}
			m := &Machine{Env: l.env(h.R, Secrets{}), Saver: h, StopAfter: StepConnect}
			if _, err := m.Run(context.Background()); err != nil {
				t.Fatalf("connect: %v\n%s", err, l.events.text())
			}
			h.Close()
			want, warned := "full", true
			if consent {
				want, warned = "strict", false
			}
			if got := l.sim.SSLMode(testZone); got != want || h.R.Zone.SSLMode != want || h.R.Changes.SSLModeSet != consent {
				t.Fatalf("ssl mode %s, rollout says %s (set %v), want %s\n%s", got, h.R.Zone.SSLMode, h.R.Changes.SSLModeSet, want, l.events.text())
			}
			if got := strings.Contains(l.events.text(), "Full (strict) is recommended"); got != warned {
				t.Fatalf("warned %v, want %v:\n%s", got, warned, l.events.text())
			}
			if !consent {
				// Consent given later (resume with it, the wizard's fix):
				// connect runs again and switches.
				r, err := l.drive(r.ID, func(m *Machine) error {
					m.Env.Rollout.ConsentSSLStrict()
					m.StopAfter = StepConnect
					_, err := m.Run(context.Background())
					return err
				})
				if err != nil || l.sim.SSLMode(testZone) != "strict" || !r.Changes.SSLModeSet || r.Changes.SSLModeBefore != "full" {
					t.Fatalf("consent after connect: %v, ssl mode %s, changes %+v\n%s", err, l.sim.SSLMode(testZone), r.Changes, l.events.text())
				}
			}
			if _, err := l.rollback(r.ID); err != nil {
				t.Fatalf("rollback: %v\n%s", err, l.events.text())
			}
			if got := l.sim.SSLMode(testZone); got != "full" {
				t.Fatalf("after rollback the ssl mode is %s, want full", got)
			}
		})
	}
}
