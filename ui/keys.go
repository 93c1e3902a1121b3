package ui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the wizard; the footer help is built from
// it, so what the footer says is what the keys do.
type KeyMap struct {
	Quit    key.Binding
	Help    key.Binding
	Back    key.Binding
	Enter   key.Binding
	Prev    key.Binding
	Up      key.Binding
	Down    key.Binding
	Retry   key.Binding
	Yes     key.Binding
	Skip    key.Binding
	Apply   key.Binding
	Manual  key.Binding
	Fix     key.Binding
	Scroll  key.Binding
	QuitNow key.Binding
	Doctor  key.Binding
}

// DefaultKeyMap is the wizard's key map. huh forms go back a field with
// shift+tab; esc goes back a screen.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Quit:    key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "save & quit")),
		Help:    key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Back:    key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Enter:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
		Prev:    key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous field")),
		Up:      key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:    key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Retry:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry")),
		Yes:     key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes, enforce")),
		Skip:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip")),
		Apply:   key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "apply for me")),
		Manual:  key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "I'll do it")),
		Fix:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "fix it for me")),
		Scroll:  key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "scroll")),
		QuitNow: key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		Doctor:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "check a zone (doctor)")),
	}
}

// helpKeys adapts a screen's bindings plus the global ones to help.KeyMap.
type helpKeys struct {
	screen []key.Binding
	global []key.Binding
}

func (h helpKeys) ShortHelp() []key.Binding {
	var out []key.Binding
	for _, b := range append(append([]key.Binding{}, h.screen...), h.global...) {
		if b.Enabled() {
			out = append(out, b)
		}
	}
	return out
}

func (h helpKeys) FullHelp() [][]key.Binding { return [][]key.Binding{h.screen, h.global} }
