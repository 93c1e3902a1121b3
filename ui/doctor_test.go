package ui

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/steps/doctor"
)

// fakeDoctor answers with a fixed report, or fails with err, and records
// what it was asked.
type fakeDoctor struct {
	err   error
	asked []string
}

func (d *fakeDoctor) Diagnose(_ context.Context, token, zone string, origins []string) (*doctor.Report, error) {
	d.asked = append(d.asked, token+"|"+zone+"|"+strings.Join(origins, ","))
	if d.err != nil {
		return nil, d.err
	}
	return &doctor.Report{Zone: zone, ZoneID: "0123abcd", CheckedAt: testNow, SSLMode: "strict", ZoneAOP: true,
		Certificates: make([]doctor.CertState, 2), Hostnames: make([]doctor.HostState, 1),
		Findings: []doctor.Finding{
			{Severity: doctor.Error, Code: "cert-expired", Subject: "2458ce5a", Message: "the zone-level certificate expired 3 days ago",
				Remedy: "upload a new client certificate and enable it", Action: doctor.ActionNewClientCert},
			{Severity: doctor.Warn, Code: "no-expiry-alerts", Message: "no expiry alert policy", Remedy: "create an expiry alert"},
			{Severity: doctor.OK, Code: doctor.CodeSSLModeOK, Message: "SSL/TLS mode strict sends client certificates"},
		}}, nil
}

func (d *fakeDoctor) Command(a doctor.Action, rep *doctor.Report, _ []string) string {
	if a == doctor.ActionNewClientCert {
		return "aopwizard pki generate --dir DIR --domain " + rep.Zone
	}
	return ""
}

// atDoctor is the doctor screen reached from the start screen.
func atDoctor(t testing.TB, d *fakeDoctor, w, h int) *Model {
	t.Helper()
	m := newTestModel(t, newFakeFlow(), Options{Token: "env-token", Doctor: d}, w, h)
	keys(t, m, "d")
	return m
}

func init() {
	goldenScreens = append(goldenScreens,
		struct {
			name  string
			setup func(t *testing.T, f *fakeFlow, w, h int) *Model
		}{"doctor", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atDoctor(t, &fakeDoctor{}, w, h) }},
		struct {
			name  string
			setup func(t *testing.T, f *fakeFlow, w, h int) *Model
		}{"doctor-report", func(t *testing.T, f *fakeFlow, w, h int) *Model {
			m := atDoctor(t, &fakeDoctor{}, w, h)
			typeText(t, m, "example.com")
			keys(t, m, "enter", "enter")
			return m
		}},
	)
}

func TestDoctorScreenFromStartShowsFindingsWithWords(t *testing.T) {
	d := &fakeDoctor{}
	plain := newTestModel(t, newFakeFlow(), Options{}, 80, 24)
	wantNotIn(t, plain, "doctor")
	keys(t, plain, "d")
	wantScreen[*startScreen](t, plain)

	m := newTestModel(t, newFakeFlow(), Options{Token: "env-token", Doctor: d}, 80, 24)
	wantIn(t, m, "Press d to check a zone's health (doctor)")
	keys(t, m, "d")
	wantScreen[*doctorScreen](t, m)
	wantIn(t, m, "Zone to check", "Origins to probe")
	wantNotIn(t, m, "API token")

	// No zone: the form says so and nothing runs.
	keys(t, m, "enter")
	wantIn(t, m, "the zone is required")
	if len(d.asked) != 0 {
		t.Fatalf("the doctor ran without a zone: %v", d.asked)
	}
	typeText(t, m, "example.com")
	keys(t, m, "enter")
	typeText(t, m, "203.0.113.10, 198.51.100.7:8443")
	keys(t, m, "enter")
	if want := []string{"env-token|example.com|203.0.113.10,198.51.100.7:8443"}; !slices.Equal(d.asked, want) {
		t.Fatalf("asked %v, want %v", d.asked, want)
	}
	wantIn(t, m, "Zone example.com", "SSL/TLS mode strict", "1 errors · 1 warnings",
		"✗ ERROR 2458ce5a: the zone-level certificate expired", "fix: upload a new client certificate",
		"run: aopwizard pki generate --dir DIR --domain example.com", "! WARN  no expiry alert policy", "✓ ok")

	// r checks again; esc goes back to the start screen.
	keys(t, m, "r")
	if len(d.asked) != 2 {
		t.Fatalf("r ran the doctor %d times in all, want 2", len(d.asked))
	}
	keys(t, m, "esc")
	wantScreen[*startScreen](t, m)
}

func TestDoctorScreenAsksTokenAndShowsFailure(t *testing.T) {
	d := &fakeDoctor{err: errors.New("find zone nope.example: zone not found in this account")}
	m := newTestModel(t, newFakeFlow(), Options{Doctor: d}, 80, 24)
	keys(t, m, "d")
	wantIn(t, m, "Cloudflare API token")
	keys(t, m, "enter")
	wantIn(t, m, "a token is required")
	typeText(t, m, "s3cret-token")
	keys(t, m, "enter")
	typeText(t, m, "nope.example")
	keys(t, m, "enter", "enter")
	wantIn(t, m, "could not check nope.example", "zone not found")
	wantNotIn(t, m, "s3cret-token")
	if len(d.asked) != 1 || !strings.HasPrefix(d.asked[0], "s3cret-token|nope.example|") {
		t.Fatalf("asked %v", d.asked)
	}
	// enter asks for another zone, the token kept.
	keys(t, m, "enter")
	wantIn(t, m, "Zone to check")
	wantNotIn(t, m, "could not check")
}

// A report that arrives for a run the screen no longer waits for (the
// operator went back and checked again) is dropped.
func TestDoctorScreenDropsStaleAnswers(t *testing.T) {
	m := atDoctor(t, &fakeDoctor{}, 80, 24)
	s := wantScreen[*doctorScreen](t, m)
	s.running, s.seq = true, 2
	drive(t, m, doctorMsg{seq: 1, rep: &doctor.Report{Zone: "stale.example"}})
	if !s.running || s.rep != nil {
		t.Fatal("a stale answer ended the run")
	}
}

// On a 40x12 terminal the report is longer than the screen: down scrolls
// to its last line.
func TestDoctorScreenScrollsToTheEnd(t *testing.T) {
	m := atDoctor(t, &fakeDoctor{}, 40, 12)
	typeText(t, m, "example.com")
	keys(t, m, "enter", "enter")
	wantNotIn(t, m, "sends client")
	for range 30 {
		keys(t, m, "down")
	}
	wantIn(t, m, "sends client")
	wantNotIn(t, m, "Zone example.com")
}
