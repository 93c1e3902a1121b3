package sites

import (
	"bytes"
	"fmt"
	"strings"
)

// This is a small nginx tokenizer of our own rather than
// github.com/tufanbarisyildirim/gonginx: in-place edits need the exact byte
// offset of every directive and brace in the operator's file (to insert
// text and comment directives out without touching a byte around them), and
// gonginx gives a tree it prints back in its own layout, losing the
// original bytes. nginx's own grammar is small: words, quoted strings,
// comments, ';', '{' and '}'.

// Directive is one nginx directive with its position in its file.
type Directive struct {
	Name  string
	Args  []string // unquoted
	Line  int      // 1-based line of the name
	Start int      // byte offset of the name
	End   int      // byte offset just after ';' or the closing '}'
	// Block is set for block directives (server, location, http, ...).
	Block     []*Directive
	Open      int // byte offset of '{' (block directives)
	Close     int // byte offset of '}' (block directives)
	CloseLine int
}

// Text is the directive's source, e.g. "ssl_verify_client on;".
func (d *Directive) Text(src []byte) string { return string(src[d.Start:d.End]) }

type token struct {
	text       string
	quoted     bool
	start, end int
	line       int
}

// ParseNginx parses one nginx config file into directives.
func ParseNginx(src []byte) ([]*Directive, error) {
	toks, err := tokenizeNginx(src)
	if err != nil {
		return nil, err
	}
	p := &nginxParser{toks: toks}
	ds, err := p.block(false)
	if err != nil {
		return nil, err
	}
	return ds, nil
}

func tokenizeNginx(src []byte) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			toks = append(toks, token{text: string(c), start: i, end: i + 1, line: line})
			i++
		case c == '"' || c == '\'':
			start, startLine := i, line
			var b strings.Builder
			i++
			for i < len(src) && src[i] != c {
				if src[i] == '\n' {
					line++
				}
				i += unescape(&b, src, i)
			}
			if i >= len(src) {
				return nil, fmt.Errorf("line %d: unterminated quoted string", startLine)
			}
			i++
			toks = append(toks, token{text: b.String(), quoted: true, start: start, end: i, line: startLine})
		default:
			start := i
			var b strings.Builder
			for i < len(src) {
				c := src[i]
				if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '{' || c == '}' {
					break
				}
				// "${var}" keeps its braces inside a word.
				if c == '$' && i+1 < len(src) && src[i+1] == '{' {
					j := bytes.IndexByte(src[i:], '}')
					if j < 0 {
						return nil, fmt.Errorf("line %d: unterminated ${", line)
					}
					b.Write(src[i : i+j+1])
					i += j + 1
					continue
				}
				i += unescape(&b, src, i)
			}
			toks = append(toks, token{text: b.String(), start: start, end: i, line: line})
		}
	}
	return toks, nil
}

// unescape copies the character at src[i] the way nginx's config reader
// does and returns how many bytes it used: a backslash before a quote or
// another backslash is dropped, \t \r \n become control characters, and
// any other backslash is kept (so the regex "\.css" stays "\.css").
func unescape(b *strings.Builder, src []byte, i int) int {
	if src[i] != '\\' || i+1 >= len(src) {
		b.WriteByte(src[i])
		return 1
	}
	switch src[i+1] {
	case '"', '\'', '\\':
		b.WriteByte(src[i+1])
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case 'n':
		b.WriteByte('\n')
	default:
		b.WriteByte('\\')
		b.WriteByte(src[i+1])
	}
	return 2
}

type nginxParser struct {
	toks []token
	pos  int
}

func (p *nginxParser) block(inner bool) ([]*Directive, error) {
	var out []*Directive
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		if !t.quoted && t.text == "}" {
			if !inner {
				return nil, fmt.Errorf("line %d: unexpected \"}\"", t.line)
			}
			return out, nil
		}
		if !t.quoted && (t.text == ";" || t.text == "{") {
			return nil, fmt.Errorf("line %d: unexpected %q", t.line, t.text)
		}
		d := &Directive{Name: t.text, Line: t.line, Start: t.start}
		p.pos++
		for {
			if p.pos >= len(p.toks) {
				return nil, fmt.Errorf("line %d: directive %q has no ending \";\" or block", d.Line, d.Name)
			}
			a := p.toks[p.pos]
			p.pos++
			if !a.quoted && a.text == ";" {
				d.End = a.end
				break
			}
			if !a.quoted && a.text == "{" {
				d.Open = a.start
				kids, err := p.block(true)
				if err != nil {
					return nil, err
				}
				if p.pos >= len(p.toks) {
					return nil, fmt.Errorf("line %d: block %q is not closed", d.Line, d.Name)
				}
				cl := p.toks[p.pos]
				p.pos++
				d.Block, d.Close, d.CloseLine, d.End = kids, cl.start, cl.line, cl.end
				if d.Block == nil {
					d.Block = []*Directive{}
				}
				break
			}
			if !a.quoted && a.text == "}" {
				return nil, fmt.Errorf("line %d: unexpected \"}\" in directive %q", a.line, d.Name)
			}
			d.Args = append(d.Args, a.text)
		}
		out = append(out, d)
	}
	if inner {
		return nil, fmt.Errorf("unexpected end of file: a block is not closed")
	}
	return out, nil
}

// Find returns the directives named name directly in ds.
func Find(ds []*Directive, name string) []*Directive {
	var out []*Directive
	for _, d := range ds {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

// NginxDump is `nginx -T` output split into its files, in dump order (the
// main config first).
type NginxDump struct {
	Files []DumpFile
}

// DumpFile is one file of a dump.
type DumpFile struct {
	Path    string
	Content []byte
}

const dumpMarker = "# configuration file "

// ParseNginxDump splits `nginx -T` stdout at its "# configuration file
// PATH:" lines. nginx writes each file's bytes followed by one newline, so
// that newline is dropped to give the file's exact content.
func ParseNginxDump(out []byte) (*NginxDump, error) {
	d := &NginxDump{}
	lines := bytes.SplitAfter(out, []byte("\n"))
	var cur *DumpFile
	var buf []byte
	flush := func() {
		if cur != nil {
			cur.Content = bytes.TrimSuffix(buf, []byte("\n"))
			d.Files = append(d.Files, *cur)
		}
	}
	for _, l := range lines {
		s := strings.TrimRight(string(l), "\r\n")
		if strings.HasPrefix(s, dumpMarker) && strings.HasSuffix(s, ":") && (len(buf) == 0 || bytes.HasSuffix(buf, []byte("\n"))) {
			flush()
			cur = &DumpFile{Path: strings.TrimSuffix(strings.TrimPrefix(s, dumpMarker), ":")}
			buf = nil
			continue
		}
		if cur != nil {
			buf = append(buf, l...)
		}
	}
	flush()
	if len(d.Files) == 0 {
		return nil, fmt.Errorf("no %q lines in the nginx -T output: is this nginx 1.9.2 or later?", dumpMarker+"PATH:")
	}
	return d, nil
}
