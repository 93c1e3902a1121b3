package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/charmbracelet/x/vt"
)

// driver is a running program the flow tests type into and read: a
// teatest.TestModel, or a liveProgram (whose Ctrl-C ends it as in a
// terminal).
type driver interface {
	Type(string)
	Send(tea.Msg)
	Output() io.Reader
}

// waitFor waits until the program's screen shows all of texts. The
// deadline is generous: it holds on two busy cores under -race.
func waitFor(t *testing.T, tm driver, texts ...string) {
	t.Helper()
	waitDrawn(t, tm, true, texts)
}

// waitDoneAny waits until a step's screen is done (its footer offers
// retry, which it does not while the step runs: a key pressed then is
// dropped) and shows one of texts.
func waitDoneAny(t *testing.T, tm driver, texts ...string) {
	t.Helper()
	waitUntil(t, tm, func(b []byte) bool {
		return has(b, "r retry") && slices.ContainsFunc(texts, func(s string) bool { return has(b, s) })
	})
}

func waitDrawn(t *testing.T, tm driver, all bool, texts []string) {
	t.Helper()
	waitUntil(t, tm, func(b []byte) bool {
		for _, s := range texts {
			if has(b, s) != all {
				return !all
			}
		}
		return all
	})
}

// screens are the terminals the programs' output plays into, one per
// driver: a wait looks at the screen as a terminal shows it, since the
// renderer writes only the cells that changed (a word may never be
// written whole, "enable" becoming "enabled" by one "d").
var screens sync.Map

func screenOf(tm driver) *vt.Emulator {
	if e, ok := screens.Load(tm); ok {
		return e.(*vt.Emulator)
	}
	// Larger than any program's terminal here: it draws within its own.
	e := vt.NewEmulator(200, 60)
	// The emulator answers the program's queries on its own pipe: drain it.
	go func() { _, _ = io.Copy(io.Discard, e) }()
	screens.Store(tm, e)
	return e
}

// waitUntil waits until drawn holds for the program's screen, its text
// without spaces (a phrase may wrap; texts are compared without theirs,
// see has).
func waitUntil(t *testing.T, tm driver, drawn func([]byte) bool) {
	t.Helper()
	e := screenOf(tm)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := io.Copy(e, tm.Output()); err != nil {
			t.Fatal(err)
		}
		screen := e.String()
		if drawn(squeeze([]byte(screen))) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed what the test waits for; it shows:\n%s", screen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func squeeze(b []byte) []byte { return bytes.Join(bytes.Fields(b), nil) }

// has reports whether squeezed screen text b shows s.
func has(b []byte, s string) bool { return bytes.Contains(b, squeeze([]byte(s))) }

func startProgram(t *testing.T, f *fakeFlow, opts Options) (*teatest.TestModel, *Model) {
	t.Helper()
	opts.Now = func() time.Time { return testNow }
	m := New(context.Background(), f, opts)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	return tm, m
}

func enter(tm driver) { tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter}) }

// TestProgramFlowStartToDone runs the real Bubble Tea program on the fake
// flow, from the start screen to done, as a person would: a key, then
// wait for the screen to show.
func TestProgramFlowStartToDone(t *testing.T) {
	f := newFakeFlow()
	tm, _ := startProgram(t, f, Options{Token: "env-token"})
	waitFor(t, tm, "Start a new rollout")
	enter(tm)
	waitFor(t, tm, "Connect to Cloudflare")
	tm.Type("example.com")
	enter(tm)
	waitFor(t, tm, "Full (strict) recommended")
	tm.Type("f")
	waitFor(t, tm, "mode: strict")
	enter(tm)
	waitFor(t, tm, "Plan the rollout")
	enter(tm)
	waitFor(t, tm, "Hostnames")
	tm.Send(tea.PasteMsg{Content: "www.example.com"})
	enter(tm)
	waitFor(t, tm, "Origin server")
	// Three fields, three enters: each moves on whether or not the one
	// before has landed, as the fields are left empty.
	enter(tm)
	enter(tm)
	enter(tm)
	waitFor(t, tm, "Nothing has changed yet")
	enter(tm)
	certificateToEnd(t, tm, false, "enabled")
	fm := tm.FinalModel(t, teatest.WithFinalTimeout(20*time.Second)).(*Model)
	if fm.Err() != nil {
		t.Fatal(fm.Err())
	}
	if in := f.snapshot().Inputs; in.Zone != "example.com" || in.Hostnames[0] != "www.example.com" || !in.NoPassphrase || !in.Enforce {
		t.Fatalf("inputs %+v", in)
	}
}

// TestProgramCtrlCSavesAndInterrupts: Ctrl-C saves the rollout and ends
// the program with ErrInterrupted (exit 130); a failed save is said too.
func TestProgramCtrlCSavesAndInterrupts(t *testing.T) {
	for _, saveErr := range []error{nil, errors.New("disk full")} {
		t.Run(fmt.Sprint(saveErr), func(t *testing.T) {
			f := newFakeFlow()
			f.saveErr = saveErr
			m := New(context.Background(), f, Options{Token: "env-token", Now: func() time.Time { return testNow }})
			in, keys := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- runProgram(context.Background(), m, tea.WithInput(in), tea.WithOutput(io.Discard),
					tea.WithoutSignals(), tea.WithWindowSize(80, 24))
			}()
			if _, err := keys.Write([]byte{0x03}); err != nil { // what a terminal sends for ctrl+c
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the program did not end on ctrl+c")
			}
			if !errors.Is(err, ErrInterrupted) {
				t.Fatalf("Run returned %v, want ErrInterrupted", err)
			}
			if saveErr != nil && (!errors.Is(err, saveErr) || !strings.Contains(err.Error(), "could not save the rollout")) {
				t.Fatalf("Run returned %v, not saying the save failed", err)
			}
			if n := f.saveCount(); n != 1 {
				t.Fatalf("saved %d times", n)
			}
		})
	}
}
