package ui

import (
	"context"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// The names here are the ones scripts/bench reads into docs/benchmarks.md:
// BenchmarkFirstFrame, and BenchmarkView/<screen> and
// BenchmarkUpdate/<screen> for every screen of goldenScreens.

// BenchmarkFirstFrame is the wizard's share of the time to the first
// frame: the model built, Init, the terminal's size, the first View at
// 120x40 (the terminal's own start-up is the binary's, not measured here).
func BenchmarkFirstFrame(b *testing.B) {
	f := newFakeFlow()
	b.ReportAllocs()
	for b.Loop() {
		m := New(context.Background(), f, Options{})
		_ = m.Init()
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
		_ = m.View()
		m.cancel()
	}
}

// BenchmarkView renders every screen at 120x40 (target: well under 1 ms,
// so a frame never waits for the view).
func BenchmarkView(b *testing.B) {
	t := &testing.T{}
	for _, g := range goldenScreens {
		b.Run(g.name, func(b *testing.B) {
			m := g.setup(t, newFakeFlow(), 120, 40)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// updateKeys are the two keys BenchmarkUpdate alternates on a screen, so
// its state stays bounded; a screen not listed moves down and up.
var updateKeys = map[string][2]string{
	"connect": {"x", "backspace"},
	"enforce": {"enter", "x"},
}

// BenchmarkUpdate is one key press through the root to each screen
// (target: under 100 µs).
func BenchmarkUpdate(b *testing.B) {
	t := &testing.T{}
	for _, g := range goldenScreens {
		b.Run(g.name, func(b *testing.B) {
			m := g.setup(t, newFakeFlow(), 120, 40)
			ks, ok := updateKeys[g.name]
			if !ok {
				ks = [2]string{"down", "up"}
			}
			msgs := [2]tea.KeyPressMsg{press(ks[0]), press(ks[1])}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.Update(msgs[i&1])
				i++
			}
		})
	}
}

// BenchmarkUpdateKeyFormAlone is the same key press on the plan and
// connect forms driven bare, without the root and the screen: the
// difference to BenchmarkUpdate/connect and BenchmarkUpdate/plan is what
// the wizard adds to huh's own cost.
func BenchmarkUpdateKeyFormAlone(b *testing.B) {
	t := &testing.T{}
	cases := []struct {
		name string
		keys [2]tea.KeyPressMsg
		step string
	}{
		{"connect-typing", [2]tea.KeyPressMsg{press("x"), press("backspace")}, StepConnect},
		{"plan-select", [2]tea.KeyPressMsg{press("down"), press("up")}, StepPlan},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m := atStep(t, newFakeFlow(), ModeZone, c.step, 120, 40)
			var form *formScreen
			switch s := m.screen.(type) {
			case *connectScreen:
				form = &s.formScreen
			case *planScreen:
				form = &s.formScreen
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				form.form, _ = updateForm(form.form, c.keys[i&1])
				i++
			}
		})
	}
}
