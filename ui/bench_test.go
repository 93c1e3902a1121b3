package ui

import (
	"context"
	"testing"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
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

// BenchmarkFormKey is a key press on a bare form of one field, with huh's
// own field against the wizard's (field.go), built alike: the ratio is why
// the wizard draws its own fields.
func BenchmarkFormKey(b *testing.B) {
	st := newStyles(true)
	opts := []huh.Option[string]{huh.NewOption("nginx", "nginx"), huh.NewOption("apache", "apache"), huh.NewOption("haproxy", "haproxy"), huh.NewOption("builtin", "builtin")}
	cases := []struct {
		name  string
		field func(v *string) huh.Field
		keys  [2]tea.KeyPressMsg
	}{
		{"huh-select", func(v *string) huh.Field {
			return huh.NewSelect[string]().Title("Mode").Options(modeOptions...).Value(v)
		}, [2]tea.KeyPressMsg{press("down"), press("up")}},
		{"wizard-select", func(v *string) huh.Field { return newSelect(st).Title("Mode").Options(modeOptions...).Value(v) },
			[2]tea.KeyPressMsg{press("down"), press("up")}},
		{"huh-select-8", func(v *string) huh.Field {
			return huh.NewSelect[string]().Title("Origin server").Options(append(opts, opts...)...).Value(v)
		}, [2]tea.KeyPressMsg{press("down"), press("up")}},
		{"wizard-select-8", func(v *string) huh.Field {
			return newSelect(st).Title("Origin server").Options(append(opts, opts...)...).Value(v)
		}, [2]tea.KeyPressMsg{press("down"), press("up")}},
		{"huh-input", func(v *string) huh.Field {
			return huh.NewInput().Title("Zone").Description("The domain as it appears in the Cloudflare dashboard.").Value(v)
		}, [2]tea.KeyPressMsg{press("x"), press("backspace")}},
		{"wizard-input", func(v *string) huh.Field {
			return newInput(st).Title("Zone").Description("The domain as it appears in the Cloudflare dashboard.").Value(v)
		}, [2]tea.KeyPressMsg{press("x"), press("backspace")}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			v := "example.com"
			f := sizeForm(newForm(huh.NewGroup(c.field(&v))), nil, 120, 30)
			_ = f.Init()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f, _ = updateForm(f, c.keys[i&1])
				i++
			}
		})
	}
}
