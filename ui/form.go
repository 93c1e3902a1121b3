package ui

import (
	"errors"
	"strings"
	"sync"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

// newForm is a huh form around the wizard's fields (field.go). Its own help
// and error lines are off: the footer shows the form's keys from the one
// key map, and each field says its own error.
func newForm(groups ...*huh.Group) *huh.Form {
	return huh.NewForm(groups...).WithTheme(huh.ThemeFunc(formTheme)).WithShowHelp(false).WithShowErrors(false)
}

// The themes are built once: huh asks for its theme on every update and
// view, and building one costs more than the rest of a key press.
var (
	darkTheme  = sync.OnceValue(func() *huh.Styles { return huh.ThemeCharm(true) })
	lightTheme = sync.OnceValue(func() *huh.Styles { return huh.ThemeCharm(false) })
)

func formTheme(isDark bool) *huh.Styles {
	if isDark {
		return darkTheme()
	}
	return lightTheme()
}

// updateForm passes msg to f; huh's Update returns its own Model type.
func updateForm(f *huh.Form, msg tea.Msg) (*huh.Form, tea.Cmd) {
	m, cmd := f.Update(msg)
	if ff, ok := m.(*huh.Form); ok {
		f = ff
	}
	return f, cmd
}

// formKeys are the footer keys while a form has the focus.
func formKeys(k *KeyMap) []key.Binding {
	return []key.Binding{withHelp(k.Enter, "next"), k.Prev}
}

// tokenField asks for the Cloudflare API token, masked; what desc says is
// the access the screen needs.
func tokenField(st *Styles, desc string, v *string) *inputField {
	return newInput(st).Title("Cloudflare API token").Description(desc).
		Password().Value(v).
		Validate(func(v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("a token is required (or set CLOUDFLARE_API_TOKEN)")
			}
			return nil
		})
}
