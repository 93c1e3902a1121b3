package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func runPlain(t *testing.T, f *fakeFlow, answers string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := RunPlain(context.Background(), f, Options{Token: "env-token", Now: func() time.Time { return testNow }}, strings.NewReader(answers), &out)
	return out.String(), err
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// TestPlainZoneModeToDone: every answer piped in one go arrives (one reader
// for every prompt), and the rollout runs to done with textual progress.
func TestPlainZoneModeToDone(t *testing.T) {
	f := newFakeFlow()
	answers := strings.Join([]string{
		"not a zone", "example.com", "y", // zone (re-asked), fix SSL mode (Full: not the default): yes
		"", "www.example.com, shop.other.org", "www.example.com", "", "127.0.0.1:8443", "", "", // plan, go ahead
		"", "y", // generate, no passphrase
		"",    // upload
		"",    // origin: apply
		"",    // enable
		"yes", // enforce
	}, "\n") + "\n"
	out, err := runPlain(t, f, answers)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wantLines(t, out, "Step 1 of 9: Connect", "Zone (the domain, e.g. example.com): ", "not a zone",
		"✓ Connect done", "SSL/TLS mode: strict", "shop.other.org is not in zone example.com",
		"Nothing has changed yet. This is what the rollout will do:", "  In Cloudflare:", "    - upload 1 new zone-level", "Subject     CN=example.com",
		"Cloudflare  cert-123", "  · nginx -t", "✓ 2 of 2 checks pass", "clients reaching the origin directly",
		"✓ Authenticated Origin Pulls is set up for example.com", "Report: /state/r1/report.md")
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "╭") {
		t.Fatalf("styling in plain output:\n%q", out)
	}
	in := f.snapshot().Inputs
	if in.Zone != "example.com" || in.Hostnames[0] != "www.example.com" || !in.NoPassphrase || !in.Enforce || in.OriginConfig != OriginApply || !in.SetSSLStrict {
		t.Fatalf("inputs %+v", in)
	}
	if strings.Contains(out, "env-token") {
		t.Fatal("the token was printed")
	}
}

func TestPlainRetryAfterFailure(t *testing.T) {
	f := newFakeFlow()
	f.fail[StepConnect] = errFake
	// zone, retry, the zone again (kept), no to the SSL fix
	out, err := runPlain(t, f, "example.com\n\n\nn\n")
	wantLines(t, out, "✗ Connect failed: "+errFake.Error(), "What to do: check the connect inputs and retry", "Retry (Y/n)",
		"Zone (the domain, e.g. example.com) [example.com]: ", "✓ Connect done", "Set it to Full (strict) now (y/N)", "Step 2 of 9: Plan")
	if err == nil || !strings.Contains(err.Error(), "the input ended") {
		t.Fatalf("err %v\n%s", err, out)
	}
}

func TestPlainNoToRetryEnds(t *testing.T) {
	f := newFakeFlow()
	f.fail[StepConnect] = errFake
	out, err := runPlain(t, f, "example.com\nn\n")
	if !errors.Is(err, errFake) {
		t.Fatalf("err %v\n%s", err, out)
	}
}

func TestPlainNoToGoAheadStopsAndSaves(t *testing.T) {
	f := newFakeFlow()
	out, err := runPlain(t, f, "example.com\nn\n\nwww.example.com\n\n\n\nn\n")
	if !errors.Is(err, errQuit) || f.saveCount() != 1 {
		t.Fatalf("err %v saves %d\n%s", err, f.saveCount(), out)
	}
}

func TestPlainInputEndsEarly(t *testing.T) {
	out, err := runPlain(t, newFakeFlow(), "example.com\n")
	if err == nil || !strings.Contains(err.Error(), "the input ended") {
		t.Fatalf("err %v\n%s", err, out)
	}
}

func TestPlainResumeAndInterrupt(t *testing.T) {
	f := newFakeFlow()
	f.rollouts = []Summary{{ID: "a", Inputs: Inputs{Zone: "example.com", Mode: ModeZone}, Steps: stepsFor(ModeZone), Updated: testNow.Add(-time.Hour)}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := RunPlain(ctx, f, Options{Token: "t", Now: func() time.Time { return testNow }}, strings.NewReader("1\nexample.com\n"), &out)
	wantLines(t, out.String(), "1) example.com, zone mode, at connect (1/9), 1h ago", "0) start a new rollout")
	if !errors.Is(err, ErrInterrupted) || f.saveCount() != 1 {
		t.Fatalf("cancelled run: %v, saves %d\n%s", err, f.saveCount(), out.String())
	}
}

func TestPlainSecretNeedsATerminal(t *testing.T) {
	var out bytes.Buffer
	err := RunPlain(context.Background(), newFakeFlow(), Options{}, strings.NewReader("x\n"), &out)
	if err == nil || !strings.Contains(err.Error(), "needs a terminal; or set CLOUDFLARE_API_TOKEN") {
		t.Fatalf("err %v", err)
	}
}

// TestPlainAsksForAPassphraseUntilOneIsGiven: declining an unencrypted CA
// key and then giving an empty passphrase asks again (the step would fail
// on it, and a retry with the same answers would fail the same way).
func TestPlainAsksForAPassphraseUntilOneIsGiven(t *testing.T) {
	f := newFakeFlow()
	answers := strings.Join([]string{
		"example.com", "n", // zone, no SSL fix
		"", "www.example.com", "", "127.0.0.1:8443", "", "", // plan, go ahead
		"", "n", // generate, encrypted (the passphrase is typed hidden, below)
	}, "\n") + "\n"
	typed := []string{"", "s3cret-pass", "s3cret-pass"} // empty (asked again), then twice
	readHidden = func() ([]byte, error) {
		if len(typed) == 0 {
			return nil, io.EOF
		}
		a := typed[0]
		typed = typed[1:]
		return []byte(a), nil
	}
	t.Cleanup(func() { readHidden = nil })
	out, _ := runPlain(t, f, answers)
	wantLines(t, out, "a passphrase is needed to encrypt the CA key", "✓ Certificate done")
	if in := f.snapshot().Inputs; in.NoPassphrase {
		t.Fatalf("inputs %+v", in)
	}
	if strings.Contains(out, "s3cret-pass") {
		t.Fatal("the passphrase was printed")
	}
}
