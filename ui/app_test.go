package ui

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

func wantIn(t *testing.T, m *Model, want ...string) {
	t.Helper()
	v := content(m)
	for _, w := range want {
		if !strings.Contains(v, w) {
			t.Fatalf("view lacks %q:\n%s", w, v)
		}
	}
}

func wantNotIn(t *testing.T, m *Model, bad ...string) {
	t.Helper()
	v := content(m)
	for _, b := range bad {
		if strings.Contains(v, b) {
			t.Fatalf("view shows %q:\n%s", b, v)
		}
	}
}

func wantScreen[S screen](t *testing.T, m *Model) S {
	t.Helper()
	s, ok := m.screen.(S)
	if !ok {
		t.Fatalf("screen is %T, want %T:\n%s", m.screen, *new(S), content(m))
	}
	return s
}

// TestWizardZoneModeEndToEnd walks every screen with key presses, from
// start to done, and checks what reached the flow.
func TestWizardZoneModeEndToEnd(t *testing.T) {
	f := newFakeFlow()
	m := newTestModel(t, f, Options{}, 80, 24)
	wantIn(t, m, "Start a new rollout")
	drive(t, m, press("enter"))

	wantScreen[*connectScreen](t, m)
	typeText(t, m, "s3cret-token")
	drive(t, m, press("enter"))
	typeText(t, m, "Example.COM")
	drive(t, m, press("enter"))
	wantNotIn(t, m, "s3cret-token")
	wantIn(t, m, "zone example.com found", "SSL/TLS mode full: Full (strict) recommended")
	drive(t, m, press("f"))
	wantIn(t, m, "SSL/TLS mode: strict")
	if last := f.inputs[len(f.inputs)-1]; !last.SetSSLStrict || last.Zone != "example.com" {
		t.Fatalf("inputs after fix: %+v", last)
	}
	if f.secrets[0].Token != "s3cret-token" {
		t.Fatalf("token did not reach the flow: %+v", f.secrets[0])
	}
	drive(t, m, press("enter"))

	wantScreen[*planScreen](t, m)
	drive(t, m, press("enter")) // zone mode (the default)
	drive(t, m, tea.PasteMsg{Content: "www.example.com\napi.example.com, WWW.example.com"})
	wantIn(t, m, "2 valid")
	drive(t, m, press("enter"))
	drive(t, m, press("enter")) // server nginx
	typeText(t, m, "127.0.0.1:8443")
	drive(t, m, press("enter"))
	drive(t, m, press("enter")) // no alerts email
	wantIn(t, m, "Nothing has changed yet", "In Cloudflare:", "  • upload 1 new zone-level client certificate(s)")
	in := f.inputs[len(f.inputs)-1]
	if in.Mode != ModeZone || strings.Join(in.Hostnames, ",") != "www.example.com,api.example.com" || in.Origins[0] != "127.0.0.1:8443" || in.Server != "nginx" {
		t.Fatalf("plan inputs: %+v", in)
	}
	drive(t, m, press("enter"))

	wantScreen[*certificateScreen](t, m)
	drive(t, m, press("enter")) // generate
	typeText(t, m, "pass-phrase")
	drive(t, m, press("enter"))
	typeText(t, m, "pass-phrase")
	drive(t, m, press("enter"))
	wantIn(t, m, "certificate ready", "CN=example.com", "30:04:72:A3")
	wantNotIn(t, m, "pass-phrase")
	if got := string(f.secrets[len(f.secrets)-1].Passphrase); got != "pass-phrase" {
		t.Fatalf("passphrase reached the flow as %q", got)
	}
	drive(t, m, press("enter"))

	wantScreen[*uploadScreen](t, m)
	wantIn(t, m, "Press enter to upload", "CN=aopwizard CA")
	drive(t, m, press("enter"))
	wantIn(t, m, "uploaded and active", "cert-123")
	drive(t, m, press("enter"))

	wantScreen[*originScreen](t, m)
	wantIn(t, m, "/etc/nginx/conf.d/aop.conf", "ssl_client_certificate /etc/nginx/aop/zone-ca.pem;")
	drive(t, m, press("a"))
	wantIn(t, m, "$ nginx -t", "configuration file test is successful")
	if f.inputs[len(f.inputs)-1].OriginConfig != OriginApply {
		t.Fatal("apply did not reach the flow")
	}
	drive(t, m, press("enter"))

	wantScreen[*verifyScreen](t, m)
	wantIn(t, m, "Press enter to enable")
	drive(t, m, press("enter"))
	drive(t, m, press("enter"))
	s := wantScreen[*verifyScreen](t, m)
	if s.step != StepVerify {
		t.Fatalf("at %s, want verify", s.step)
	}
	wantIn(t, m, "2 of 2 checks pass", "✓ pass", "edge proof")
	drive(t, m, press("enter"))

	wantScreen[*enforceScreen](t, m)
	wantIn(t, m, "refuses every TLS client", "health checks from outside")
	drive(t, m, press("enter")) // enter alone must not enforce
	wantScreen[*enforceScreen](t, m)
	if f.ran[len(f.ran)-1] == StepEnforce {
		t.Fatal("enter alone enforced")
	}
	drive(t, m, press("y"))
	wantIn(t, m, "✓ enforced")
	drive(t, m, press("enter"))

	wantScreen[*doneScreen](t, m)
	wantIn(t, m, "/state/r1/report.md", "aopwizard rollback", "enforced, verified through the edge")
	ends := drive(t, m, press("enter"))
	if len(ends) != 1 || m.Err() != nil {
		t.Fatalf("done: ends %v err %v", ends, m.Err())
	}
	if _, ok := ends[0].(tea.QuitMsg); !ok {
		t.Fatalf("done ended with %T", ends[0])
	}
	want := "connect,connect,plan,certificate,upload,origin-soft,enable,verify,enforce,done"
	if got := strings.Join(f.ran, ","); got != want {
		t.Fatalf("steps ran %s, want %s", got, want)
	}
	if f.saves != 1 {
		t.Fatalf("saved %d times on quit, want 1", f.saves)
	}
}

// TestWizardHostnameAndGlobalModesToDone: the other two modes from start
// to done; global mode has no upload and nothing to choose for the
// certificate.
func TestWizardHostnameAndGlobalModesToDone(t *testing.T) {
	for _, c := range []struct {
		mode  string
		downs int
		steps string
	}{
		{ModeHostname, 1, "connect,plan,certificate,upload,origin-soft,enable,verify,enforce,done"},
		{ModeGlobal, 2, "connect,plan,certificate,origin-soft,enable,verify,enforce,done"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			f := newFakeFlow()
			m := newTestModel(t, f, Options{Token: "env-token"}, 100, 30)
			keys(t, m, "enter")
			typeText(t, m, "example.com")
			keys(t, m, "enter", "enter") // connect, then past the SSL advice
			for range c.downs {
				keys(t, m, "down")
			}
			keys(t, m, "enter")
			drive(t, m, tea.PasteMsg{Content: "a.example.com b.example.com"})
			keys(t, m, "enter", "enter", "enter") // hostnames, server, origins
			if c.mode != ModeGlobal {
				keys(t, m, "enter") // no alert email
			}
			wantIn(t, m, "Nothing has changed yet", c.mode+" mode")
			keys(t, m, "enter")
			if c.mode == ModeGlobal {
				keys(t, m, "enter", "enter") // Cloudflare's certificate
			} else {
				keys(t, m, "enter", "enter", "enter", "enter") // generate, no passphrase
				wantScreen[*uploadScreen](t, m)
				keys(t, m, "enter", "enter")
			}
			keys(t, m, "a", "enter")     // origin
			keys(t, m, "enter", "enter") // enable
			keys(t, m, "enter")          // verify ran on arrival
			keys(t, m, "y", "enter")     // enforce
			wantIn(t, m, "set up for example.com")
			if ends := keys(t, m, "enter"); len(ends) != 1 || m.Err() != nil {
				t.Fatalf("done: %v %v", ends, m.Err())
			}
			if got := strings.Join(f.ran, ","); got != c.steps {
				t.Fatalf("ran %s, want %s", got, c.steps)
			}
			if in := f.snapshot().Inputs; in.Mode != c.mode || strings.Join(in.Hostnames, " ") != "a.example.com b.example.com" {
				t.Fatalf("inputs %+v", in)
			}
		})
	}
}
