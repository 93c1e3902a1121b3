package sites

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
)

// HAProxyLine is one line of a HAProxy section.
type HAProxyLine struct {
	Words []string
	Line  int
	Start int // offset of the line
	End   int // offset after its newline
}

// Text is the line without its newline.
func (l HAProxyLine) Text(src []byte) string {
	return strings.TrimRight(string(src[l.Start:l.End]), "\r\n")
}

// HAProxySection is a frontend or listen section.
type HAProxySection struct {
	File    string
	Content []byte
	Kind    string // frontend or listen
	Name    string
	Line    int
	EndLine int
	Lines   []HAProxyLine
	// Start and End are the byte range of the section, from its header
	// line to the next section's header (comments included).
	Start, End int
}

// Binds are the section's bind lines.
func (s *HAProxySection) Binds() []HAProxyLine {
	var out []HAProxyLine
	for _, l := range s.Lines {
		if l.Words[0] == "bind" {
			out = append(out, l)
		}
	}
	return out
}

// BindOption returns the value after keyword on a bind line, if present.
func BindOption(l HAProxyLine, keyword string) (string, bool) {
	for i, w := range l.Words {
		if w == keyword {
			if i+1 < len(l.Words) {
				return l.Words[i+1], true
			}
			return "", true
		}
	}
	return "", false
}

// HAProxyConfig is a parsed haproxy.cfg.
type HAProxyConfig struct {
	Sections []*HAProxySection
	Notes    []string
	// CrtBase is the global crt-base: relative crt and crt-list paths are
	// relative to it.
	CrtBase string
}

// crtPath resolves a bind line's certificate path.
func (c *HAProxyConfig) crtPath(p string) string {
	if p == "" || filepath.IsAbs(p) || c.CrtBase == "" {
		return p
	}
	return filepath.Join(c.CrtBase, p)
}

// ParseHAProxy returns the frontend and listen sections of src.
func ParseHAProxy(file string, src []byte) *HAProxyConfig {
	c := &HAProxyConfig{}
	var cur *HAProxySection
	inGlobal := false
	line := 0
	for off := 0; off < len(src); {
		next := len(src)
		if i := bytes.IndexByte(src[off:], '\n'); i >= 0 {
			next = off + i + 1
		}
		line++
		text := string(src[off:next])
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		words := strings.Fields(text)
		if len(words) > 0 {
			switch words[0] {
			case "global", "defaults", "frontend", "listen", "backend", "resolvers", "peers", "userlist", "program", "http-errors", "ring", "cache", "mailers":
				inGlobal = words[0] == "global"
				if cur != nil {
					cur.End = off
					c.Sections = append(c.Sections, cur)
					cur = nil
				}
				if words[0] == "frontend" || words[0] == "listen" {
					cur = &HAProxySection{File: file, Content: src, Kind: words[0], Line: line, EndLine: line, Start: off}
					if len(words) > 1 {
						cur.Name = words[1]
					}
				}
			default:
				if inGlobal && words[0] == "crt-base" && len(words) > 1 {
					c.CrtBase = words[1]
				}
				if cur != nil {
					cur.Lines = append(cur.Lines, HAProxyLine{Words: words, Line: line, Start: off, End: next})
					cur.EndLine = line
				}
			}
		}
		off = next
	}
	if cur != nil {
		cur.End = len(src)
		c.Sections = append(c.Sections, cur)
	}
	return c
}

// LoadHAProxy reads the main config (HAProxy has no dump of its parsed
// view; Debian's haproxy.cfg includes nothing).
func LoadHAProxy(path string) (*HAProxyConfig, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read HAProxy's configuration: %w", err)
	}
	return ParseHAProxy(path, src), nil
}

// Config is the generic view. A frontend's hostnames are the names in the
// certificates its bind lines load (HAProxy picks the certificate by SNI),
// plus the SNI filters of crt-list lines.
func (c *HAProxyConfig) Config() *Config {
	out := &Config{Server: render.HAProxy, Notes: c.Notes}
	for _, s := range c.Sections {
		b := Block{Server: render.HAProxy, File: s.File, RealFile: RealPath(s.File), Line: s.Line, EndLine: s.EndLine, Section: s.Kind + " " + s.Name}
		tls := false
		for _, l := range s.Binds() {
			if len(l.Words) > 1 {
				b.Listen = append(b.Listen, l.Words[1])
			}
			if _, ok := BindOption(l, "ssl"); !ok {
				continue
			}
			tls = true
			if crt, ok := BindOption(l, "crt"); ok {
				crt = c.crtPath(crt)
				if b.Certificate == "" {
					b.Certificate = crt
				}
				names, err := certNames(crt)
				if err != nil {
					out.Notes = append(out.Notes, fmt.Sprintf("%s:%d: %v", s.File, l.Line, err))
				}
				b.Names = appendNew(b.Names, names...)
			}
			if cl, ok := BindOption(l, "crt-list"); ok {
				names, err := crtListNames(c.crtPath(cl), c.crtPath)
				if err != nil {
					out.Notes = append(out.Notes, fmt.Sprintf("%s:%d: %v", s.File, l.Line, err))
				}
				b.Names = appendNew(b.Names, names...)
			}
			for _, k := range []string{"verify", "ca-file", "ca-ignore-err", "crt-ignore-err"} {
				if v, ok := BindOption(l, k); ok {
					b.ClientAuth = append(b.ClientAuth, Setting{Text: k + " " + v, File: s.File, Line: l.Line})
				}
			}
		}
		out.Blocks = append(out.Blocks, ServerBlock{Block: b, TLS: tls})
	}
	return out
}

func appendNew(list []string, names ...string) []string {
	for _, n := range names {
		found := false
		for _, have := range list {
			if strings.EqualFold(have, n) {
				found = true
				break
			}
		}
		if !found {
			list = append(list, n)
		}
	}
	return list
}

// certNames are the DNS names of the certificates in a PEM file, or in
// every file of a directory (HAProxy's "crt DIR").
func certNames(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("read the certificate to learn its hostnames: %w", err)
	}
	files := []string{p}
	if st.IsDir() {
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("read the certificate directory: %w", err)
		}
		files = files[:0]
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return names, fmt.Errorf("read the certificate to learn its hostnames: %w", err)
		}
		for {
			var blk *pem.Block
			blk, data = pem.Decode(data)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				continue
			}
			names = appendNew(names, cert.DNSNames...)
			break // the leaf comes first; the rest is its chain
		}
	}
	return names, nil
}

// crtListNames reads a crt-list: "CERT [options] [sni filter...]".
func crtListNames(p string, resolve func(string) string) ([]string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read the crt-list to learn its hostnames: %w", err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		if i, j := strings.IndexByte(l, '['), strings.IndexByte(l, ']'); i >= 0 && j > i {
			l = l[:i] + " " + l[j+1:]
		}
		w := strings.Fields(l)
		if len(w) == 0 {
			continue
		}
		if len(w) == 1 {
			n, _ := certNames(resolve(w[0]))
			names = appendNew(names, n...)
			continue
		}
		for _, f := range w[1:] {
			if !strings.HasPrefix(f, "!") {
				names = appendNew(names, f)
			}
		}
	}
	return names, nil
}
