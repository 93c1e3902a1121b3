package ui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

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

// BenchmarkUpdateKey is one key press through the root to the screen
// (target: under 100 µs). The keys alternate so the state stays bounded.
func BenchmarkUpdateKey(b *testing.B) {
	t := &testing.T{}
	cases := []struct {
		name string
		keys [2]tea.KeyPressMsg
		m    func() *Model
	}{
		{"start-list", [2]tea.KeyPressMsg{press("down"), press("up")}, func() *Model {
			f := newFakeFlow()
			f.rollouts = []Summary{{ID: "a", Inputs: Inputs{Zone: "example.com"}, Steps: stepsFor(ModeZone)}}
			return newTestModel(t, f, Options{}, 120, 40)
		}},
		{"connect-typing", [2]tea.KeyPressMsg{press("x"), press("backspace")}, func() *Model {
			return atStep(t, newFakeFlow(), ModeZone, StepConnect, 120, 40)
		}},
		{"plan-select", [2]tea.KeyPressMsg{press("down"), press("up")}, func() *Model {
			return atStep(t, newFakeFlow(), ModeZone, StepPlan, 120, 40)
		}},
		{"origin-scroll", [2]tea.KeyPressMsg{press("down"), press("up")}, func() *Model {
			return atStep(t, newFakeFlow(), ModeZone, StepOrigin, 120, 40)
		}},
		{"enforce-ignored", [2]tea.KeyPressMsg{press("enter"), press("x")}, func() *Model {
			return atStep(t, newFakeFlow(), ModeZone, StepEnforce, 120, 40)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m := c.m()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.Update(c.keys[i&1])
				i++
			}
		})
	}
}

// BenchmarkUpdateKeyFormAlone is the same key press on the plan and
// connect forms driven bare, without the root and the screen: the
// difference to BenchmarkUpdateKey is what the wizard adds to huh's own
// cost.
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
