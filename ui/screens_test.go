package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestStartListsRolloutsToResume(t *testing.T) {
	f := newFakeFlow()
	steps := stepsFor(ModeZone)
	for i := range 3 {
		steps[i].Status = StatusDone
	}
	f.rollouts = []Summary{
		{ID: "a", Inputs: Inputs{Zone: "example.com", Mode: ModeZone}, Steps: steps, Updated: testNow.Add(-2 * time.Hour), Waiting: "the certificate to become active"},
		{ID: "b", Inputs: Inputs{Zone: "example.org"}, Steps: stepsFor(ModeZone), Updated: testNow.Add(-3 * 24 * time.Hour)},
	}
	m := newTestModel(t, f, Options{}, 80, 24)
	wantIn(t, m, "example.com · zone mode · at upload (4/9) · 2h ago", "waits for the certificate to become active",
		"example.org · – mode · at connect (1/9) · 3d ago", "Start a new rollout")
	keys(t, m, "down", "down", "down", "up", "up")
	if s := wantScreen[*startScreen](t, m); s.cursor != 0 {
		t.Fatalf("cursor %d after down x3 up x2, want 0 (clamped at the last item)", s.cursor)
	}
	drive(t, m, press("enter"))
	wantScreen[*uploadScreen](t, m)
	if m.c.sum.ID != "a" {
		t.Fatalf("resumed %q", m.c.sum.ID)
	}
}

func TestStartResumeFailureStaysAndSays(t *testing.T) {
	f := newFakeFlow()
	f.rollouts = []Summary{{ID: "gone", Inputs: Inputs{Zone: "example.com"}, Steps: stepsFor(ModeZone)}}
	m := newTestModel(t, f, Options{}, 80, 24)
	f.rollouts[0].ID = "renamed" // Resume("gone") now fails
	drive(t, m, press("enter"))
	wantScreen[*startScreen](t, m)
	wantIn(t, m, "✗ no rollout gone")
}

func TestConnectRejectsBadZone(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{Token: "env-token"}, 80, 24)
	drive(t, m, press("enter"))
	wantIn(t, m, "Using the API token from CLOUDFLARE_API_TOKEN")
	wantNotIn(t, m, "Cloudflare API token", "env-token")
	typeText(t, m, "not a zone")
	drive(t, m, press("enter"))
	wantScreen[*connectScreen](t, m)
	if len(f.ran) != 0 {
		t.Fatalf("ran %v with a bad zone", f.ran)
	}
	wantIn(t, m, "zone")
	for range "not a zone" {
		drive(t, m, press("backspace"))
	}
	typeText(t, m, "example.com")
	drive(t, m, press("enter"))
	if len(f.ran) != 1 || f.secrets[0].Token != "env-token" {
		t.Fatalf("ran %v secrets %+v", f.ran, f.secrets)
	}
}

func TestConnectRequiresToken(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{}, 80, 24)
	drive(t, m, press("enter"))
	drive(t, m, press("enter"))
	wantIn(t, m, "a token is required")
	if len(f.ran) != 0 {
		t.Fatal("connect ran without a token")
	}
	// What is typed is masked, on screen and once the field is left.
	typeText(t, m, "s3cret")
	wantIn(t, m, "> ••••••")
	wantNotIn(t, m, "s3cret")
	drive(t, m, press("enter"))
	wantIn(t, m, "┃ Zone", "> ••••••")
	wantNotIn(t, m, "s3cret")
}

func TestEscGoesBackAScreen(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 80, 24)
	drive(t, m, press("esc"))
	wantScreen[*connectScreen](t, m)
	drive(t, m, press("esc"))
	wantScreen[*startScreen](t, m)
	drive(t, m, press("esc")) // nothing before start
	wantScreen[*startScreen](t, m)
}

func TestPlanHostnameModeValidatesLive(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 120, 30)
	reshow(t, m, StepPlan, func(in *Inputs) { in.Hostnames = nil })
	drive(t, m, press("down")) // per-hostname
	drive(t, m, press("enter"))
	drive(t, m, tea.PasteMsg{Content: "www.example.com, shop.other.org"})
	wantIn(t, m, "1 valid to protect", "1 rejected: shop.other.org is not in zone example.com")
	drive(t, m, press("enter"))
	wantScreen[*planScreen](t, m)
	if len(f.ran) != 0 {
		t.Fatal("plan ran with a hostname outside the zone")
	}
	for range ", shop.other.org" {
		drive(t, m, press("backspace"))
	}
	wantIn(t, m, "1 valid to protect.")
	keys(t, m, "enter", "enter")
	typeText(t, m, "not-an-ip")
	drive(t, m, press("enter"))
	wantIn(t, m, "not-an-ip is not an IP address")
	for range "not-an-ip" {
		drive(t, m, press("backspace"))
	}
	keys(t, m, "enter", "enter")
	in := f.inputs[len(f.inputs)-1]
	if in.Mode != ModeHostname || strings.Join(in.Hostnames, ",") != "www.example.com" {
		t.Fatalf("plan inputs %+v", in)
	}
	// The rollout of hostname mode has its own steps; the sidebar shows them.
	wantIn(t, m, "Upload", "hostname mode")
}

func TestPlanHostnameModeNeedsAHostname(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 80, 24)
	reshow(t, m, StepPlan, func(in *Inputs) { in.Hostnames = nil })
	drive(t, m, press("down"))
	drive(t, m, press("enter"))
	drive(t, m, press("enter"))
	wantIn(t, m, "per-hostname mode needs at least one hostname")
}

func TestPlanGlobalModeHasNoUpload(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 120, 30)
	keys(t, m, "down", "down", "enter")
	keys(t, m, "enter", "enter", "enter") // hostnames, server, origins: no alert email in global mode
	wantIn(t, m, "global mode", "Nothing has changed yet")
	wantNotIn(t, m, "Upload")
	drive(t, m, press("enter"))
	wantScreen[*certificateScreen](t, m)
	wantIn(t, m, "Cloudflare's shared certificate")
	drive(t, m, press("enter"))
	if in := f.inputs[len(f.inputs)-1]; in.CertSource != CertCloudflare {
		t.Fatalf("cert source %q", in.CertSource)
	}
	drive(t, m, press("enter"))
	wantScreen[*originScreen](t, m)
}

func TestCertificatePassphrasesMustMatch(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepCertificate, 80, 24)
	drive(t, m, press("enter"))
	typeText(t, m, "alpha1")
	drive(t, m, press("enter"))
	typeText(t, m, "beta2")
	drive(t, m, press("enter"))
	wantIn(t, m, "the two passphrases differ")
	wantNotIn(t, m, "alpha1", "beta2")
	if len(f.ran) != 0 {
		t.Fatal("generated with differing passphrases")
	}
}

func TestCertificateImportAsksForFiles(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepCertificate, 80, 24)
	keys(t, m, "down", "enter")
	wantIn(t, m, "Certificate file (PEM)")
	drive(t, m, press("enter"))
	wantIn(t, m, "the certificate file is required")
	typeText(t, m, "/tmp/c.pem")
	drive(t, m, press("enter"))
	typeText(t, m, "/tmp/k.pem")
	keys(t, m, "enter", "enter", "enter")
	in := f.inputs[len(f.inputs)-1]
	if in.CertSource != CertImport || in.ImportCert != "/tmp/c.pem" || in.ImportKey != "/tmp/k.pem" {
		t.Fatalf("import inputs %+v", in)
	}
}

func TestCertificateShowsElapsedWhileGenerating(t *testing.T) {
	f := newFakeFlow()
	f.hold = StepCertificate
	m := atStep(t, f, ModeZone, StepCertificate, 80, 24)
	keys(t, m, "enter", "enter", "enter")
	wantIn(t, m, "generating keys", "0s")
	now := testNow
	m.c.now = func() time.Time { return now.Add(3 * time.Second) }
	s := wantScreen[*certificateScreen](t, m)
	m.Update(s.run.spin.Tick()) // not drive: the next tick would sleep
	// The spinner tick moves the clock; the screen stays responsive.
	wantIn(t, m, "3s")
	drive(t, m, press("?"))
	if !m.showHelp {
		t.Fatal("? did nothing while keys generate")
	}
	resume(t, m, f)
	wantIn(t, m, "certificate ready")
}

func TestOriginManualWaitsAndCtrlCQuitsAtOnce(t *testing.T) {
	f := newFakeFlow()
	f.hold = StepOrigin
	m := atStep(t, f, ModeZone, StepOrigin, 80, 24)
	drive(t, m, press("m"))
	<-f.started
	wantIn(t, m, "waiting for the origin", "ssl_client_certificate /etc/nginx/aop/zone-ca.pem;", "last check: origin-soft started")
	if f.inputs[len(f.inputs)-1].OriginConfig != OriginManual {
		t.Fatal("manual did not reach the flow")
	}
	// The config stays scrollable while the wizard waits.
	s := wantScreen[*originScreen](t, m)
	keys(t, m, "down")
	if s.vp.YOffset() != 1 {
		t.Fatalf("viewport at %d after down while waiting", s.vp.YOffset())
	}
	ends := drive(t, m, press("ctrl+c"))
	if len(ends) != 1 {
		t.Fatalf("ctrl+c while waiting: %v", ends)
	}
	if _, ok := ends[0].(tea.InterruptMsg); !ok || f.saves != 1 {
		t.Fatalf("ctrl+c ended with %T after %d saves", ends[0], f.saves)
	}
}

func TestOriginViewportScrolls(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepOrigin, 80, 24)
	s := wantScreen[*originScreen](t, m)
	keys(t, m, "down", "down")
	if s.vp.YOffset() != 2 {
		t.Fatalf("viewport at %d after two downs", s.vp.YOffset())
	}
}

func TestCtrlCDuringUploadFinishesFirst(t *testing.T) {
	f := newFakeFlow()
	f.hold = StepUpload
	m := atStep(t, f, ModeZone, StepUpload, 80, 24)
	drive(t, m, press("enter"))
	if ends := drive(t, m, press("ctrl+c")); len(ends) != 0 {
		t.Fatalf("ctrl+c during the upload quit at once: %v", ends)
	}
	wantIn(t, m, "Finishing Upload first, then saving and quitting")
	if f.saves != 0 {
		t.Fatal("saved before the upload ended")
	}
	drive(t, m, press("esc")) // ignored while quitting
	ends := resume(t, m, f)
	if len(ends) != 1 {
		t.Fatalf("after the upload: %v", ends)
	}
	if _, ok := ends[0].(tea.InterruptMsg); !ok || f.saves != 1 {
		t.Fatalf("ended with %T after %d saves", ends[0], f.saves)
	}
	if sum := f.snapshot(); sum.Step(StepUpload).Status != StatusDone {
		t.Fatal("the upload did not finish")
	}
}

func TestCtrlCOnAFormSavesAndInterrupts(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 80, 24)
	ends := drive(t, m, press("ctrl+c"))
	if len(ends) != 1 || f.saves != 1 {
		t.Fatalf("ends %v saves %d", ends, f.saves)
	}
	if _, ok := ends[0].(tea.InterruptMsg); !ok {
		t.Fatalf("ended with %T", ends[0])
	}
}

func TestErrorScreenRetryBackQuit(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepUpload, 80, 24)
	f.fail[StepUpload] = errFake
	drive(t, m, press("enter"))
	wantScreen[*errorScreen](t, m)
	wantIn(t, m, "✗ Upload failed", "What happened", errFake.Error(), "What to do", "check the upload inputs and retry")
	drive(t, m, press("r"))
	wantScreen[*originScreen](t, m)

	f.fail[StepOrigin] = errFake
	drive(t, m, press("a"))
	wantScreen[*errorScreen](t, m)
	drive(t, m, press("esc"))
	wantScreen[*originScreen](t, m)

	f.fail[StepOrigin] = errFake
	drive(t, m, press("a"))
	ends := drive(t, m, press("q"))
	if len(ends) != 1 || !errors.Is(m.Err(), errFake) || f.saves != 1 {
		t.Fatalf("quit on error: ends %v err %v saves %d", ends, m.Err(), f.saves)
	}
}

func TestEnforceStayInSoftMode(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepEnforce, 80, 24)
	drive(t, m, press("s"))
	wantIn(t, m, "left in soft mode")
	if f.inputs[len(f.inputs)-1].Enforce {
		t.Fatal("s enforced")
	}
	drive(t, m, press("enter"))
	wantScreen[*doneScreen](t, m)
}

func TestVerifyRetry(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepVerify, 80, 24)
	wantIn(t, m, "2 of 2 checks pass")
	drive(t, m, press("r"))
	if got := strings.Join(f.ran, ","); got != "verify,verify" {
		t.Fatalf("ran %s", got)
	}
}

func TestAlertsScreen(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepAlerts, 80, 24)
	wantIn(t, m, "emails ops@example.com")
	drive(t, m, press("enter"))
	if len(f.ran) != 1 || f.ran[0] != StepAlerts {
		t.Fatalf("ran %v", f.ran)
	}
	// Done, it says what the step did, not only that it is done.
	wantIn(t, m, "✓ done", "· expiry notifications go to ops@example.com")
}

func TestHelpToggleAndTyping(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepUpload, 80, 24)
	drive(t, m, press("?"))
	if !m.showHelp {
		t.Fatal("? did not open the full help")
	}
	drive(t, m, press("?"))
	m = atStep(t, newFakeFlow(), ModeZone, StepConnect, 80, 24)
	drive(t, m, press("?"))
	if m.showHelp {
		t.Fatal("? typed into the zone field opened the help")
	}
	wantIn(t, m, "> example.com?")
	wantNotIn(t, m, "? help")
}

func TestDemoBannerAndRestyle(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{Demo: true}, 40, 12)
	wantIn(t, m, "DEMO · Cloudflare is simulated")
	drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 30})
	wantIn(t, m, "DEMO · the Cloudflare side is simulated; nothing leaves this machine")
	drive(t, m, tea.BackgroundColorMsg{Color: lightBG{}})
	if m.c.st.isDark {
		t.Fatal("a light background kept the dark styles")
	}
}

type lightBG struct{}

func (lightBG) RGBA() (r, g, b, a uint32) { return 0xffff, 0xffff, 0xffff, 0xffff }

// TestLayoutFitsEveryScreen: every screen, in every state the goldens
// show, stays within the terminal from 40x12 up, and the sidebar shows
// from 100 columns.
func TestLayoutFitsEveryScreen(t *testing.T) {
	for _, size := range [][2]int{{40, 12}, {60, 20}, {80, 24}, {99, 30}, {100, 30}, {120, 40}} {
		for _, g := range goldenScreens {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], g.name), func(t *testing.T) {
				m := g.setup(t, newFakeFlow(), size[0], size[1])
				checkFits(t, m, size[0], size[1])
				_, _, sidebar := m.layout()
				// The start and doctor screens come before any rollout: no steps to list.
				if want := size[0] >= wideWidth && g.name != "start" && !strings.HasPrefix(g.name, "doctor"); sidebar != want {
					t.Fatalf("sidebar %v at %d columns", sidebar, size[0])
				}
				drive(t, m, press("?")) // the full help fits too
				checkFits(t, m, size[0], size[1])
				// Live resize: the same model at another size fits too.
				drive(t, m, tea.WindowSizeMsg{Width: 40, Height: 12})
				checkFits(t, m, 40, 12)
			})
		}
	}
}

func checkFits(t *testing.T, m *Model, w, h int) {
	t.Helper()
	v := m.View().Content
	lines := strings.Split(v, "\n")
	if len(lines) > h {
		t.Fatalf("%d lines on a %d-line terminal:\n%s", len(lines), h, ansi.Strip(v))
	}
	for _, l := range lines {
		if ansi.StringWidth(l) > w {
			t.Fatalf("line of %d cells on a %d-column terminal: %q", ansi.StringWidth(l), w, ansi.Strip(l))
		}
	}
}

func TestSidebarSaysStatusInWords(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepUpload, 120, 30)
	f.fail[StepUpload] = nil
	wantIn(t, m, "Connect     ✓ done", "Upload      ○ pending")
	m.c.sum.Steps[4].Status = StatusFailed
	m.c.sum.Steps[5].Status = StatusSkipped
	m.c.sum.Steps[6].Status = StatusRunning
	wantIn(t, m, "✗ failed", "– skipped", "● running")
	drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	wantIn(t, m, "aopwizard › Upload 4/9")
}

// TestEveryScreenBackAndCtrlC: on every step's screen, esc shows the
// previous step's screen and Ctrl-C saves and interrupts.
func TestEveryScreenBackAndCtrlC(t *testing.T) {
	steps := stepsFor(ModeZone, true)
	for _, st := range steps {
		t.Run(st.Name, func(t *testing.T) {
			f := newFakeFlow()
			m := atStep(t, f, ModeZone, st.Name, 80, 24)
			if st.Name == StepVerify {
				// verify runs on arrival; esc still goes back once it ends.
				wantIn(t, m, "checks pass")
			}
			want := ""
			for j, s := range m.c.sum.Steps {
				if s.Name == st.Name && j > 0 {
					want = m.c.sum.Steps[j-1].Name
				}
			}
			keys(t, m, "esc")
			if got := m.screen.Step(); got != want {
				t.Fatalf("esc from %s showed %q, want %q", st.Name, got, want)
			}
			ends := keys(t, m, "ctrl+c")
			if len(ends) != 1 || f.saves != 1 {
				t.Fatalf("ctrl+c: ends %v saves %d", ends, f.saves)
			}
			if _, ok := ends[0].(tea.InterruptMsg); !ok {
				t.Fatalf("ctrl+c ended with %T", ends[0])
			}
		})
	}
}

// TestQuitAndResumeExactlyThere: Ctrl-C on a screen, then a new wizard
// on the same state offers that rollout and resumes at that screen.
func TestQuitAndResumeExactlyThere(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepOrigin, 80, 24)
	keys(t, m, "ctrl+c")
	m2 := newTestModel(t, f, Options{}, 80, 24)
	wantIn(t, m2, "example.com · zone mode · at origin (5/9) · just now")
	keys(t, m2, "enter")
	wantScreen[*originScreen](t, m2)
}

func TestConnectAsksForTokenAgainAfterFailure(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{Token: "bad-env-token"}, 80, 24)
	keys(t, m, "enter")
	f.fail[StepConnect] = errors.New("the API token is invalid")
	typeText(t, m, "example.com")
	keys(t, m, "enter")
	wantScreen[*errorScreen](t, m)
	keys(t, m, "esc")
	wantScreen[*connectScreen](t, m)
	wantIn(t, m, "Cloudflare API token")
	typeText(t, m, "good-token")
	keys(t, m, "enter", "enter")
	if got := f.secrets[len(f.secrets)-1].Token; got != "good-token" {
		t.Fatalf("retried with token %q", got)
	}
}

func TestVerifyFailureShowsTheMatrix(t *testing.T) {
	f := newFakeFlow()
	f.fail[StepVerify] = errors.New("1 of 1 checks failed")
	m := atStep(t, f, ModeZone, StepVerify, 80, 24)
	wantScreen[*errorScreen](t, m)
	wantIn(t, m, "✗ 0 of 1 checks pass", "✗ FAIL", "handshake refused", "check the verify inputs and retry")
	keys(t, m, "r")
	wantScreen[*enforceScreen](t, m)
}

// TestVerifyMatrixFillsLive: cells show as the step reports them, before
// it ends.
func TestVerifyMatrixFillsLive(t *testing.T) {
	f := newFakeFlow()
	f.hold = StepVerify
	m := atStep(t, f, ModeZone, StepVerify, 120, 30)
	wantIn(t, m, "✗ 0 of 1 checks pass", "✗ FAIL", "live.example.com @ 192.0.2.7:443", "no-cert", "refused", "Verify 7/9"[:6])
	if running, _ := m.screen.Busy(); !running {
		t.Fatal("verify is not running")
	}
	resume(t, m, f)
	wantIn(t, m, "✓ 2 of 2 checks pass")
}

func TestWindowTitleAndTerminalProgress(t *testing.T) {
	f := newFakeFlow()
	f.hold = StepUpload
	m := atStep(t, f, ModeZone, StepUpload, 80, 24)
	v := m.View()
	if v.WindowTitle != "aopwizard · Upload" || v.ProgressBar == nil || v.ProgressBar.Value != 33 {
		t.Fatalf("title %q progress %+v (3 of 9 steps done)", v.WindowTitle, v.ProgressBar)
	}
	keys(t, m, "enter")
	if v := m.View(); v.ProgressBar.State != tea.ProgressBarIndeterminate {
		t.Fatalf("progress while uploading: %+v", v.ProgressBar)
	}
	drive(t, m, tea.WindowSizeMsg{Width: 120, Height: 30})
	wantIn(t, m, "› Upload      ● running")
	resume(t, m, f)
}

// zoneFlow is a flow that can list the zones a token sees.
type zoneFlow struct {
	*fakeFlow
	tokens []string
}

func (z *zoneFlow) Zones(_ context.Context, token string) ([]string, error) {
	z.tokens = append(z.tokens, token)
	return []string{"example.com", "example.org", "other.net"}, nil
}

func TestConnectZoneCompletion(t *testing.T) {
	t.Run("token from the environment", func(t *testing.T) {
		zf := &zoneFlow{fakeFlow: newFakeFlow()}
		m := newTestModel(t, zf, Options{Token: "env-token"}, 80, 24)
		keys(t, m, "enter")
		typeText(t, m, "exa")
		wantIn(t, m, "your zones: example.com, example.org", "ctrl+e complete zone")
		wantNotIn(t, m, "other.net")
		typeText(t, m, "mple.o")
		wantIn(t, m, "your zones: example.org")
		// ctrl+e takes the completion.
		drive(t, m, tea.KeyPressMsg{Code: 'e', Mod: tea.ModCtrl})
		if s := wantScreen[*connectScreen](t, m); s.ans.zone != "example.org" {
			t.Fatalf("ctrl+e completed to %q", s.ans.zone)
		}
		if len(zf.tokens) != 1 || zf.tokens[0] != "env-token" {
			t.Fatalf("zones asked with %v", zf.tokens)
		}
	})
	t.Run("typed token", func(t *testing.T) {
		zf := &zoneFlow{fakeFlow: newFakeFlow()}
		m := newTestModel(t, zf, Options{}, 80, 24)
		keys(t, m, "enter")
		wantNotIn(t, m, "your zones")
		typeText(t, m, "typed-token")
		keys(t, m, "enter")
		wantIn(t, m, "your zones: example.com, example.org, other.net")
		typeText(t, m, "o")
		if len(zf.tokens) != 1 || zf.tokens[0] != "typed-token" {
			t.Fatalf("zones asked with %v", zf.tokens)
		}
	})
}

// TestSmallTerminalShowsTheFocusedField: at 40x12 under the demo banner,
// a form shows the field being answered, and a long select shows the
// option under the cursor, whatever came before them.
func TestSmallTerminalShowsTheFocusedField(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{Demo: true}, 40, 12)
	keys(t, m, "enter")
	wantIn(t, m, "Cloudflare API token", "> ")
	typeText(t, m, "tok")
	keys(t, m, "enter")
	typeText(t, m, "exa")
	wantIn(t, m, "┃ Zone", "┃ > exa")
	checkFits(t, m, 40, 12)
	// The demo's line about its token wraps at 40 columns: the form still
	// fits under it.
	m = newTestModel(t, newFakeFlow(), Options{Demo: true, Token: "sim-token"}, 40, 12)
	keys(t, m, "enter")
	wantIn(t, m, "Using the simulated", "┃ Zone", "┃ > e.g. example.com")
	wantNotIn(t, m, "pgup/pgdn scroll")

	m = atStep(t, newFakeFlow(), ModeZone, StepPlan, 120, 40)
	drive(t, m, tea.WindowSizeMsg{Width: 40, Height: 12})
	keys(t, m, "down", "down")
	wantIn(t, m, "> Global: Cloudflare's")
	keys(t, m, "up", "up", "enter")
	typeText(t, m, " api.example.com")
	wantIn(t, m, "┃ Hostnames", "api.example.com")
	keys(t, m, "enter")
	keys(t, m, slices.Repeat([]string{"down"}, 7)...) // to builtin, the last
	wantIn(t, m, "┃ > builtin")
	checkFits(t, m, 40, 12)
	keys(t, m, "enter")
	typeText(t, m, "127.0.0.1:8443")
	wantIn(t, m, "┃ Origin addresses", "127.0.0.1:8443")
	// Back to a roomy terminal: every option shows again.
	keys(t, m, "shift+tab")
	drive(t, m, tea.WindowSizeMsg{Width: 120, Height: 40})
	wantIn(t, m, "nginx", "apache", "> builtin")

	m = atStep(t, newFakeFlow(), ModeZone, StepCertificate, 40, 12)
	keys(t, m, "down", "down")
	wantIn(t, m, "> Reuse one already uploaded")
	keys(t, m, "enter")
	typeText(t, m, "abc")
	wantIn(t, m, "┃ Certificate id or SHA-256", "> abc")
}

// TestConnectSaysWhereTheTokenComesFrom: the environment's token is named
// as such, the demo's as the simulator's own (the demo reads no
// CLOUDFLARE_* variable).
func TestConnectSaysWhereTheTokenComesFrom(t *testing.T) {
	m := newTestModel(t, newFakeFlow(), Options{Token: "env-token"}, 80, 24)
	keys(t, m, "enter")
	wantIn(t, m, "Using the API token from CLOUDFLARE_API_TOKEN.")
	m = newTestModel(t, newFakeFlow(), Options{Token: "sim-token", Demo: true}, 80, 24)
	keys(t, m, "enter")
	wantIn(t, m, "Using the simulated Cloudflare's own API token.")
	wantNotIn(t, m, "CLOUDFLARE_API_TOKEN")
}

// TestTallScreenScrolls: a screen taller than the terminal (the plan at 40
// columns) says which lines show and scrolls with pgup/pgdn; a screen with
// its own viewport (the origin's config) keeps those keys.
func TestTallScreenScrolls(t *testing.T) {
	m := atStep(t, newFakeFlow(), ModeZone, StepPlan, 40, 24)
	keys(t, m, "enter", "enter", "enter", "enter", "enter")
	wantIn(t, m, "Nothing has changed yet", "lines 1–20 of 29 · pgup/pgdn scroll")
	wantNotIn(t, m, "Verified by probing")
	drive(t, m, tea.KeyPressMsg{Code: tea.KeyPgDown})
	wantIn(t, m, "Verified by probing", "of 29 · pgup/pgdn scroll")
	wantNotIn(t, m, "Nothing has changed yet")
	checkFits(t, m, 40, 24)
	drive(t, m, tea.KeyPressMsg{Code: tea.KeyPgUp})
	wantIn(t, m, "Nothing has changed yet", "lines 1–20 of 29")
	// The next screen starts at its top.
	drive(t, m, tea.KeyPressMsg{Code: tea.KeyPgDown})
	keys(t, m, "enter")
	wantIn(t, m, "Client certificate")

	m = atStep(t, newFakeFlow(), ModeZone, StepOrigin, 80, 24)
	s := wantScreen[*originScreen](t, m)
	drive(t, m, tea.KeyPressMsg{Code: tea.KeyPgDown})
	if s.vp.YOffset() == 0 {
		t.Fatal("pgdown did not scroll the origin's config")
	}
	wantNotIn(t, m, "· pgup/pgdn scroll")
}

// TestMatrixFitsItsWidth: the matrix takes columns only when its widest
// row fits, observed column included; else two lines a check.
func TestMatrixFitsItsWidth(t *testing.T) {
	checks := []Check{{Hostname: "www.demo.example", Origin: "127.0.0.1:34151", Case: "right-cert", Expected: "accepted", Observed: "accepted (HTTP 200)", OK: true}}
	for _, w := range []int{80, 120} {
		v := ansi.Strip(matrixView(newStyles(true), checks, w))
		for _, l := range strings.Split(v, "\n") {
			if ansi.StringWidth(l) > w {
				t.Fatalf("a %d-cell line at %d columns:\n%s", ansi.StringWidth(l), w, v)
			}
		}
		if columns := strings.Contains(v, "hostname @ origin"); columns != (w == 120) {
			t.Errorf("columns %v at %d:\n%s", columns, w, v)
		}
	}
}

// previewFlow is a flow that previews the origin change as a diff.
type previewFlow struct {
	*fakeFlow
	diff string // replaces the in-place diff when set
	err  error
}

func (p *previewFlow) PreviewOrigin(context.Context) (*OriginPlan, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.diff != "" {
		return &OriginPlan{Server: "nginx", Path: "/etc/nginx/conf.d/aopwizard-example.com.conf", Diff: true, Config: p.diff}, nil
	}
	return &OriginPlan{Server: "nginx", Path: "/etc/nginx/sites-enabled/shop", Diff: true,
		Where:  "the site's own TLS blocks serve www.example.com: adding verification to them in place",
		Config: "--- /etc/nginx/sites-enabled/shop\n+++ /etc/nginx/sites-enabled/shop\n@@ -3,3 +3,5 @@\n     ssl_certificate_key /etc/ssl/shop.key;\n+    ssl_verify_client optional_no_ca;\n }\n"}, nil
}

// TestOriginScreenShowsThePreview: with a flow that works out the change
// on the server, the origin screen shows where it goes and the diff (an
// existing site edited in place), not the rendered block; a preview that
// fails is said, and the rendered files stand.
func TestOriginScreenShowsThePreview(t *testing.T) {
	f := &previewFlow{fakeFlow: newFakeFlow()}
	atStep(t, f.fakeFlow, ModeZone, StepOrigin, 100, 30) // the rollout, up to the origin
	show := func() *Model {
		m := newTestModel(t, f, Options{Token: "env-token"}, 100, 30)
		*m.c.sum = f.snapshot()
		init := m.show(m.screenFor(StepOrigin))
		wantIn(t, m, "nginx: reading the server's configuration…")
		drive(t, m, cmdMsgs(m, init)...)
		return m
	}
	m := show()
	wantIn(t, m, "nginx: changes /etc/nginx/sites-enabled/shop", "adding verification to", "+    ssl_verify_client optional_no_ca;")
	wantNotIn(t, m, "reading the server's configuration", "ssl_client_certificate /etc/nginx/aop/zone-ca.pem;")

	// A block of aopwizard's own, a new file: shown as the file.
	f.diff = "--- /dev/null\n+++ /etc/nginx/conf.d/aopwizard-example.com.conf\n@@ -0,0 +1,2 @@\n+server {\n+}\n"
	m = show()
	wantIn(t, m, "nginx config for /etc/nginx/conf.d/aopwizard-example.com.conf (new)", "# /etc/nginx/conf.d/aopwizard-example.com.conf", "│ server {")
	wantNotIn(t, m, "+server {", "/dev/null")

	f.err = errors.New("nginx -T failed")
	m = show()
	wantIn(t, m, "could not work out the change on this server: nginx -T failed", "ssl_client_certificate /etc/nginx/aop/zone-ca.pem;")
}

// TestDoneAfterADemoSaysHowToDoItForReal: a demo's rollout ends with its
// process, so its done screen points to the real wizard, not to status or
// rollback.
func TestDoneAfterADemoSaysHowToDoItForReal(t *testing.T) {
	m := atStep(t, newFakeFlow(), ModeZone, StepDone, 100, 30)
	wantIn(t, m, "aopwizard rollback")
	m.c.opts.Demo = true
	wantIn(t, m, "the same wizard against your zone", "aopwizard demo --keep")
	wantNotIn(t, m, "aopwizard rollback")
}

// TestEnterBetweenGroupsIsNotLost: huh moves from a group's last field to
// the next group in messages; an enter typed in between (fast typing, or
// keys a terminal sends at once) still answers a field, as with huh's own
// fields, instead of being dropped.
func TestEnterBetweenGroupsIsNotLost(t *testing.T) {
	f := newFakeFlow()
	m := atStep(t, f, ModeZone, StepPlan, 120, 40)
	keys(t, m, "enter", "enter", "enter") // mode, hostnames, server: on the origin addresses
	wantIn(t, m, "┃ Origin addresses")
	// The addresses' enter: the form blurs them and sends itself the next
	// group, which has not arrived when the second enter does.
	_, cmd := m.Update(press("enter"))
	var pending []tea.Msg
	for _, msg := range cmdMsgs(m, cmd) {
		_, c := m.Update(msg)
		pending = append(pending, cmdMsgs(m, c)...)
	}
	_, cmd = m.Update(press("enter"))
	drive(t, m, append(pending, cmdMsgs(m, cmd)...)...)
	// Two enters, two fields: the addresses and the alert email; the plan ran.
	if !slices.Contains(f.ran, StepPlan) {
		t.Fatalf("the second enter was lost: ran %v\n%s", f.ran, content(m))
	}
}
