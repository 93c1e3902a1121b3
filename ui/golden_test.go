package ui

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
)

// asciiView is the frame as a terminal with the ASCII profile shows it:
// no colours, text attributes kept.
func asciiView(t *testing.T, m *Model) []byte {
	t.Helper()
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.Ascii}
	if _, err := w.WriteString(m.View().Content); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// goldenScreens put the wizard on each screen in a telling state.
var goldenScreens = []struct {
	name  string
	setup func(t *testing.T, f *fakeFlow, w, h int) *Model
}{
	{"start", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		steps := stepsFor(ModeZone)
		for i := range 4 {
			steps[i].Status = StatusDone
		}
		f.rollouts = []Summary{{ID: "a", Inputs: Inputs{Zone: "example.com", Mode: ModeZone}, Steps: steps,
			Updated: testNow.Add(-26 * 60 * 60 * 1e9), Waiting: "the origin to ask for the client certificate"}}
		return newTestModel(t, f, Options{Demo: true}, w, h)
	}},
	{"connect", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		m := newTestModel(t, f, Options{}, w, h)
		keys(t, m, "enter")
		return m
	}},
	{"connect-preflight", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		m := atStep(t, f, ModeZone, StepConnect, w, h)
		keys(t, m, "enter")
		return m
	}},
	{"plan", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepPlan, w, h) }},
	{"plan-summary", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		m := atStep(t, f, ModeZone, StepPlan, w, h)
		keys(t, m, "enter", "enter", "enter", "enter", "enter")
		return m
	}},
	{"certificate", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		return atStep(t, f, ModeZone, StepCertificate, w, h)
	}},
	{"certificate-generating", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		f.hold = StepCertificate
		m := atStep(t, f, ModeZone, StepCertificate, w, h)
		keys(t, m, "enter", "enter", "enter")
		return m
	}},
	{"upload", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepUpload, w, h) }},
	{"upload-done", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		m := atStep(t, f, ModeZone, StepUpload, w, h)
		keys(t, m, "enter")
		return m
	}},
	{"origin", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepOrigin, w, h) }},
	{"origin-waiting", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		f.hold = StepOrigin
		m := atStep(t, f, ModeZone, StepOrigin, w, h)
		keys(t, m, "m")
		return m
	}},
	{"enable", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepEnable, w, h) }},
	{"verify", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepVerify, w, h) }},
	{"enforce", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepEnforce, w, h) }},
	{"done", func(t *testing.T, f *fakeFlow, w, h int) *Model { return atStep(t, f, ModeZone, StepDone, w, h) }},
	{"error", func(t *testing.T, f *fakeFlow, w, h int) *Model {
		m := atStep(t, f, ModeZone, StepUpload, w, h)
		f.fail[StepUpload] = errFake
		keys(t, m, "enter")
		return m
	}},
}

// TestViewGolden pins every screen at 40, 80 and 120 columns; go test
// ./ui -update rewrites the files after a deliberate change.
func TestViewGolden(t *testing.T) {
	for _, g := range goldenScreens {
		for _, w := range []int{40, 80, 120} {
			t.Run(fmt.Sprintf("%s/w%d", g.name, w), func(t *testing.T) {
				m := g.setup(t, newFakeFlow(), w, 24)
				golden.RequireEqual(t, asciiView(t, m))
			})
		}
	}
}
