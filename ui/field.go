package ui

import (
	"errors"
	"io"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

// The wizard's form fields. huh's Form and Group still drive them (focus,
// next and previous field, validation before moving on, hidden groups,
// completion), but they draw themselves from the wizard's Styles with
// parts styled once per width. huh's own fields restyle every line of the
// group on each key press, since a Group renders its fields in Update:
// 130–250 µs a key press here, against the 100 µs target
// (docs/benchmarks.md has both figures).

// errFieldAlone: the fields only run inside the wizard's forms; the
// accessible mode has its own prompts (plain.go).
var errFieldAlone = errors.New("a wizard field runs inside its form, not alone")

// fieldFrame is what every field shares: its title, description, focus,
// error, size, keys, and the bar that marks the focused field.
type fieldFrame struct {
	st          *Styles
	title, desc string
	// descFn, when set, gives the description anew on every frame (on the
	// UI goroutine), for one that follows other answers.
	descFn        func() string
	focused       bool
	err           error
	width, height int
	keymap        *huh.KeyMap

	// head is the title and description as drawn, for the size, focus and
	// background in headFor.
	head    []string
	headFor [3]int
	// focusBar is the bar as drawn on the background in barFor (0: none yet).
	focusBar string
	barFor   int
}

func newFieldFrame(st *Styles) fieldFrame {
	return fieldFrame{st: st, keymap: huh.NewDefaultKeyMap(), width: 80}
}

// inner is the width right of the focus bar.
func (f *fieldFrame) inner() int { return max(f.width-2, 4) }

// bar marks the lines of the focused field, in a glyph that reads without
// colour.
func (f *fieldFrame) bar() string {
	if !f.focused {
		return "  "
	}
	if d := b2i(f.st.isDark) + 1; d != f.barFor {
		f.barFor, f.focusBar = d, f.st.Accent.Render("┃")+" "
	}
	return f.focusBar
}

// headLines are the title and the wrapped description, styled.
func (f *fieldFrame) headLines() []string {
	k := [3]int{f.inner(), b2i(f.focused), b2i(f.st.isDark)}
	if f.descFn != nil {
		if d := f.descFn(); d != f.desc {
			f.desc, f.head = d, nil
		}
	}
	if f.head != nil && k == f.headFor {
		return f.head
	}
	var lines []string
	if f.title != "" {
		title := f.st.Current
		if f.focused {
			title = f.st.Title
		}
		for _, l := range wrapLines(f.title, k[0]) {
			lines = append(lines, title.Render(l))
		}
	}
	for _, l := range wrapLines(f.desc, k[0]) {
		lines = append(lines, f.st.Subtle.Render(l))
	}
	f.head, f.headFor = lines, k
	return lines
}

// errLines is the validation error in words, under the field.
func (f *fieldFrame) errLines() []string {
	if f.err == nil {
		return nil
	}
	var lines []string
	for _, l := range wrapLines("✗ "+f.err.Error(), f.inner()) {
		lines = append(lines, f.st.Fail.Render(l))
	}
	return lines
}

// draw joins the field's parts, each line behind the focus bar.
func (f *fieldFrame) draw(parts ...[]string) string {
	bar := f.bar()
	var b strings.Builder
	first := true
	for _, p := range parts {
		for _, l := range p {
			if !first {
				b.WriteByte('\n')
			}
			first = false
			b.WriteString(bar)
			b.WriteString(l)
		}
	}
	return b.String()
}

func (f *fieldFrame) Error() error                             { return f.err }
func (f *fieldFrame) Run() error                               { return errFieldAlone }
func (f *fieldFrame) RunAccessible(io.Writer, io.Reader) error { return errFieldAlone }
func (f *fieldFrame) Skip() bool                               { return false }
func (f *fieldFrame) Zoom() bool                               { return false }
func (f *fieldFrame) GetKey() string                           { return "" }
func (f *fieldFrame) Init() tea.Cmd                            { return nil }
func (f *fieldFrame) setSize(w, h int)                         { f.width, f.height = w, h }
func (f *fieldFrame) setKeyMap(k *huh.KeyMap)                  { f.keymap = k }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// wrapLines is wrapTo with no lines for no text.
func wrapLines(s string, w int) []string {
	if s == "" {
		return nil
	}
	return wrapTo(s, w)
}

// selectField picks one of a few options, each a line or a few.
type selectField struct {
	fieldFrame
	options []huh.Option[string]
	value   *string
	cursor  int
	// top is the first option shown when the field is taller than its
	// height.
	top int
	// lines are the options as drawn, [option][0 unselected, 1 selected],
	// for the size and background in linesFor.
	lines    [][2][]string
	linesFor [2]int
}

func newSelect(st *Styles) *selectField {
	return &selectField{fieldFrame: newFieldFrame(st), value: new(string)}
}

func (s *selectField) Title(t string) *selectField       { s.title = t; return s }
func (s *selectField) Description(d string) *selectField { s.desc = d; return s }

// Value binds the answer; the option holding its value starts selected.
func (s *selectField) Value(v *string) *selectField {
	s.value = v
	s.syncCursor()
	return s
}

func (s *selectField) Options(o ...huh.Option[string]) *selectField {
	s.options, s.lines = o, nil
	s.syncCursor()
	return s
}

func (s *selectField) syncCursor() {
	for i, o := range s.options {
		if o.Value == *s.value {
			s.cursor = i
			return
		}
	}
	if len(s.options) > 0 {
		s.cursor = 0
		*s.value = s.options[0].Value
	}
}

func (s *selectField) Focus() tea.Cmd { s.focused = true; return nil }
func (s *selectField) Blur() tea.Cmd  { s.focused = false; return nil }

func (s *selectField) Update(msg tea.Msg) (huh.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return s, nil
	}
	km := s.keymap.Select
	switch {
	case key.Matches(k, km.Prev):
		return s, huh.PrevField
	case key.Matches(k, km.Next, km.Submit):
		return s, huh.NextField
	case !s.focused:
		// Moving keys wait for the focus; next and previous (above) do not,
		// see inputField.Update.
	case key.Matches(k, km.Up):
		s.move(-1)
	case key.Matches(k, km.Down):
		s.move(1)
	case key.Matches(k, km.GotoTop):
		s.move(-len(s.options))
	case key.Matches(k, km.GotoBottom):
		s.move(len(s.options))
	}
	return s, nil
}

func (s *selectField) move(d int) {
	if len(s.options) == 0 {
		return
	}
	s.cursor = min(max(s.cursor+d, 0), len(s.options)-1)
	*s.value = s.options[s.cursor].Value
}

// optionLines draws every option once per width and background: a key
// press only picks which of the two drawings each option shows.
func (s *selectField) optionLines() [][2][]string {
	k := [2]int{s.inner(), b2i(s.st.isDark)}
	if s.lines != nil && k == s.linesFor {
		return s.lines
	}
	s.lines, s.linesFor = make([][2][]string, len(s.options)), k
	for i, o := range s.options {
		for j, l := range wrapLines(o.Key, k[0]-2) {
			lead, sel := "  ", "  "
			if j == 0 {
				sel = s.st.Accent.Render(">") + " "
			}
			s.lines[i][0] = append(s.lines[i][0], lead+l)
			s.lines[i][1] = append(s.lines[i][1], sel+s.st.Selected.Render(l))
		}
	}
	return s.lines
}

func (s *selectField) View() string {
	head, errs := s.headLines(), s.errLines()
	opts := s.optionLines()
	room := len(opts) * 8
	if s.height > 0 {
		room = max(s.height-len(head)-len(errs), 1)
	}
	// Keep the cursor's option in view: scroll up to it, or down until it
	// fits under top…
	s.top = min(s.top, s.cursor)
	for s.top < s.cursor && linesOf(opts[s.top:s.cursor+1]) > room {
		s.top++
	}
	// and use the room a taller terminal gives back.
	for s.top > 0 && linesOf(opts[s.top-1:]) <= room {
		s.top--
	}
	var body []string
	for i := s.top; i < len(opts) && len(body) < room; i++ {
		body = append(body, opts[i][b2i(i == s.cursor)]...)
	}
	if len(body) > room {
		body = body[:room]
	}
	return s.draw(head, body, errs)
}

func linesOf(opts [][2][]string) int {
	n := 0
	for _, o := range opts {
		n += len(o[0])
	}
	return n
}

func (s *selectField) KeyBinds() []key.Binding {
	return []key.Binding{s.keymap.Select.Up, s.keymap.Select.Down, s.keymap.Select.Next}
}
func (s *selectField) GetValue() any                            { return *s.value }
func (s *selectField) WithTheme(huh.Theme) huh.Field            { return s }
func (s *selectField) WithKeyMap(k *huh.KeyMap) huh.Field       { s.setKeyMap(k); return s }
func (s *selectField) WithWidth(w int) huh.Field                { s.setSize(w, s.height); return s }
func (s *selectField) WithHeight(h int) huh.Field               { s.setSize(s.width, h); return s }
func (s *selectField) WithPosition(huh.FieldPosition) huh.Field { return s }

// inputField is one line of text: bubbles' textinput, with validation
// before the form moves on, and an optional live note under it.
type inputField struct {
	fieldFrame
	ti       textinput.Model
	value    *string
	validate func(string) error
	// note is worked out from the value on every frame (on the UI
	// goroutine, unlike huh's DescriptionFunc, which runs in a command).
	note    func(string) string
	tiDark  int
	tiWidth int
	// skip hides the field where it does not apply (nil: never).
	skip func() bool
	// suggested is the last value suggest put in, which a later
	// suggestion may replace while the operator has not changed it.
	suggested string
}

func newInput(st *Styles) *inputField {
	f := &inputField{fieldFrame: newFieldFrame(st), ti: textinput.New(), value: new(string), validate: func(string) error { return nil }, tiDark: -1}
	f.ti.Prompt = "> "
	f.ti.KeyMap.AcceptSuggestion = f.keymap.Input.AcceptSuggestion
	return f
}

func (f *inputField) Title(t string) *inputField       { f.title = t; return f }
func (f *inputField) Description(d string) *inputField { f.desc = d; return f }

// DescriptionFunc describes the field with what fn says when drawn.
func (f *inputField) DescriptionFunc(fn func() string) *inputField { f.descFn = fn; return f }

// Placeholder shows an example while the field is empty, marked as one:
// without colour (NO_COLOR) it would read as an answer.
func (f *inputField) Placeholder(p string) *inputField { f.ti.Placeholder = "e.g. " + p; return f }

func (f *inputField) Value(v *string) *inputField {
	f.value = v
	f.ti.SetValue(*v)
	return f
}

func (f *inputField) Validate(fn func(string) error) *inputField { f.validate = fn; return f }

// Note shows what fn says of the value under the field, as it is typed.
func (f *inputField) Note(fn func(string) string) *inputField { f.note = fn; return f }

// SkipWhen hides the field, and moves focus past it, while fn says it
// does not apply.
func (f *inputField) SkipWhen(fn func() bool) *inputField { f.skip = fn; return f }

func (f *inputField) Skip() bool { return f.skip != nil && f.skip() }

// suggest puts v in the field unless the operator typed something of
// their own: an empty field, or the previous suggestion, takes it.
func (f *inputField) suggest(v string) {
	if cur := f.ti.Value(); v == "" || cur != "" && cur != f.suggested {
		return
	}
	f.ti.SetValue(v)
	*f.value, f.suggested = v, v
}

// Password masks what is typed.
func (f *inputField) Password() *inputField {
	f.ti.EchoMode = textinput.EchoPassword
	f.ti.EchoCharacter = '•'
	return f
}

// Suggestions completes the value from s (accepted with the keymap's
// AcceptSuggestion key).
func (f *inputField) Suggestions(s []string) *inputField {
	f.ti.ShowSuggestions = len(s) > 0
	f.ti.SetSuggestions(s)
	return f
}

func (f *inputField) Focus() tea.Cmd {
	f.focused = true
	return f.ti.Focus()
}

// Blur keeps the value and checks it, as huh's own input does, so the
// form does not complete with an invalid answer.
func (f *inputField) Blur() tea.Cmd {
	f.focused = false
	*f.value = f.ti.Value()
	f.ti.Blur()
	f.err = f.validate(*f.value)
	return nil
}

func (f *inputField) Update(msg tea.Msg) (huh.Model, tea.Cmd) {
	// The group gives keys to its selected field even between the blur of
	// its last field and the next group taking over (huh moves on in
	// messages): an enter typed then still moves on, as with huh's own
	// fields, rather than being lost.
	if k, ok := msg.(tea.KeyPressMsg); ok {
		f.err = nil
		switch {
		case key.Matches(k, f.keymap.Input.Prev):
			return f, huh.PrevField
		case key.Matches(k, f.keymap.Input.Next, f.keymap.Input.Submit):
			if f.err = f.validate(f.ti.Value()); f.err != nil {
				return f, nil
			}
			*f.value = f.ti.Value()
			return f, huh.NextField
		}
	}
	var cmd tea.Cmd
	f.ti, cmd = f.ti.Update(msg)
	*f.value = f.ti.Value()
	return f, cmd
}

// style gives the textinput the wizard's colours and width when either
// changed.
func (f *inputField) style() {
	if d := b2i(f.st.isDark); d != f.tiDark {
		f.tiDark = d
		st := textinput.DefaultStyles(f.st.isDark)
		st.Focused.Prompt = f.st.Accent
		st.Blurred.Prompt = f.st.Subtle
		st.Focused.Placeholder = f.st.Subtle
		st.Blurred.Placeholder = f.st.Subtle
		st.Focused.Suggestion = f.st.Subtle
		f.ti.SetStyles(st)
	}
	if w := max(f.inner()-3, 1); w != f.tiWidth {
		f.tiWidth = w
		f.ti.SetWidth(w)
	}
}

func (f *inputField) View() string {
	if f.Skip() {
		return ""
	}
	f.style()
	body := []string{f.ti.View()}
	var note []string
	if f.note != nil && f.focused {
		for _, l := range wrapLines(f.note(f.ti.Value()), f.inner()) {
			note = append(note, f.st.Subtle.Render(l))
		}
	}
	return f.draw(f.headLines(), body, note, f.errLines())
}

func (f *inputField) KeyBinds() []key.Binding {
	return []key.Binding{f.keymap.Input.Prev, f.keymap.Input.Next}
}
func (f *inputField) GetValue() any                            { return f.ti.Value() }
func (f *inputField) WithTheme(huh.Theme) huh.Field            { return f }
func (f *inputField) WithWidth(w int) huh.Field                { f.setSize(w, f.height); return f }
func (f *inputField) WithHeight(h int) huh.Field               { f.setSize(f.width, h); return f }
func (f *inputField) WithPosition(huh.FieldPosition) huh.Field { return f }

// WithKeyMap also rebinds the textinput's completion key to the form's.
func (f *inputField) WithKeyMap(k *huh.KeyMap) huh.Field {
	f.setKeyMap(k)
	f.ti.KeyMap.AcceptSuggestion = k.Input.AcceptSuggestion
	return f
}
