package sites

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
)

// NginxFile is one parsed file of an nginx config with the context its
// top level is in ("main", "http", "stream", "http/server", ...).
type NginxFile struct {
	Path       string
	Content    []byte
	Directives []*Directive
	Context    string
}

// NginxConfig is the parsed `nginx -T` view.
type NginxConfig struct {
	Files []*NginxFile
	// HTTP are the directives at http level, from every file (in order).
	HTTP []NginxAt
	// HTTPBlock is the http { } directive and its file (for http-level
	// additions such as a log_format); nil if the main file has none.
	HTTPBlock *NginxAt
	Servers   []NginxServer
}

// NginxAt is a directive and the file it is in.
type NginxAt struct {
	File *NginxFile
	*Directive
}

// NginxServer is one server { } in http context.
type NginxServer struct {
	NginxAt
	// Dirs are its directives with includes expanded (snippets such as
	// Debian's snippets/snakeoil.conf hold the certificate lines).
	Dirs []NginxAt
	TLS  bool
}

// Find returns the server's directives named name, includes expanded.
func (s NginxServer) Find(name string) []NginxAt {
	var out []NginxAt
	for _, d := range s.Dirs {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

// expand lists ds with every include replaced by the included files'
// top-level directives.
func (c *NginxConfig) expand(f *NginxFile, ds []*Directive, depth int) []NginxAt {
	var out []NginxAt
	for _, d := range ds {
		if d.Name == "include" && len(d.Args) == 1 && depth < 16 {
			for _, inc := range c.includes(d.Args[0]) {
				out = append(out, c.expand(inc, inc.Directives, depth+1)...)
			}
			continue
		}
		out = append(out, NginxAt{f, d})
	}
	return out
}

// includes are the dumped files an include pattern names.
func (c *NginxConfig) includes(pat string) []*NginxFile {
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(filepath.Dir(c.Files[0].Path), pat)
	}
	var out []*NginxFile
	for _, inc := range c.Files {
		if ok, _ := filepath.Match(pat, inc.Path); ok || inc.Path == pat {
			out = append(out, inc)
		}
	}
	return out
}

// ParseNginxConfig parses every file of a dump and works out which
// context each file's top level belongs to by following include
// directives (relative patterns are relative to the main file's directory,
// nginx's conf prefix).
func ParseNginxConfig(dump *NginxDump) (*NginxConfig, error) {
	c := &NginxConfig{}
	byPath := map[string]*NginxFile{}
	for _, f := range dump.Files {
		// Older nginx versions dump a file once per include.
		if byPath[f.Path] != nil {
			continue
		}
		ds, err := ParseNginx(f.Content)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.Path, err)
		}
		nf := &NginxFile{Path: f.Path, Content: f.Content, Directives: ds}
		c.Files = append(c.Files, nf)
		byPath[f.Path] = nf
	}
	c.Files[0].Context = "main"
	// Assign contexts by walking from the main file through includes, in
	// nginx's order, so the http-level directive list keeps parse order.
	var walk func(f *NginxFile, ds []*Directive, ctx string)
	walk = func(f *NginxFile, ds []*Directive, ctx string) {
		for _, d := range ds {
			switch {
			case d.Name == "include" && len(d.Args) == 1:
				for _, inc := range c.includes(d.Args[0]) {
					if inc.Context == "" {
						inc.Context = ctx
						walk(inc, inc.Directives, ctx)
					}
				}
			case ctx == "http" && d.Name == "server" && d.Block != nil:
				c.Servers = append(c.Servers, NginxServer{NginxAt: NginxAt{f, d}})
				walk(f, d.Block, "http/server")
			case d.Block != nil:
				if ctx == "main" && d.Name == "http" && c.HTTPBlock == nil {
					c.HTTPBlock = &NginxAt{f, d}
				}
				walk(f, d.Block, joinCtx(ctx, d.Name))
			}
			if ctx == "http" && d.Block == nil {
				c.HTTP = append(c.HTTP, NginxAt{f, d})
			}
		}
	}
	walk(c.Files[0], c.Files[0].Directives, "main")
	for i := range c.Servers {
		s := &c.Servers[i]
		s.Dirs = c.expand(s.File, s.Block, 0)
		s.TLS = serverTLS(*s, c.HTTP)
	}
	return c, nil
}

func joinCtx(ctx, name string) string {
	if ctx == "main" {
		return name
	}
	return ctx + "/" + name
}

// serverTLS: a listen with "ssl", or the old "ssl on;" (server or http level).
func serverTLS(s NginxServer, http []NginxAt) bool {
	for _, l := range s.Find("listen") {
		for _, a := range l.Args[1:] {
			if a == "ssl" {
				return true
			}
		}
	}
	if on := s.Find("ssl"); len(on) > 0 {
		return len(on[0].Args) == 1 && on[0].Args[0] == "on"
	}
	for _, d := range http {
		if d.Name == "ssl" && len(d.Args) == 1 && d.Args[0] == "on" {
			return true
		}
	}
	return false
}

// nginxClientAuthNames are the directives that already configure client
// verification in a server block.
var nginxClientAuthNames = []string{"ssl_verify_client", "ssl_client_certificate", "ssl_trusted_certificate", "ssl_verify_depth"}

// Config turns the parsed dump into the generic view.
func (c *NginxConfig) Config() *Config {
	out := &Config{Server: render.Nginx}
	for _, s := range c.Servers {
		b := Block{
			Server:   render.Nginx,
			File:     s.File.Path,
			RealFile: RealPath(s.File.Path),
			Line:     s.Line,
			EndLine:  s.CloseLine,
		}
		for _, l := range s.Find("listen") {
			b.Listen = append(b.Listen, strings.Join(l.Args, " "))
			for _, a := range l.Args[1:] {
				if a == "default_server" || a == "default" {
					b.DefaultServer = true
				}
			}
		}
		if len(b.Listen) == 0 {
			b.Listen = []string{"80 (nginx's default: no listen directive)"}
		}
		for _, n := range s.Find("server_name") {
			b.Names = append(b.Names, n.Args...)
		}
		b.Certificate = c.value(s, "ssl_certificate")
		b.Key = c.value(s, "ssl_certificate_key")
		for _, name := range nginxClientAuthNames {
			b.ClientAuth = append(b.ClientAuth, c.Settings(s, name)...)
		}
		out.Blocks = append(out.Blocks, ServerBlock{Block: b, TLS: s.TLS})
	}
	return out
}

// Settings are the directives named name in effect for server s: its own,
// else the http-level ones it inherits.
func (c *NginxConfig) Settings(s NginxServer, name string) []Setting {
	var out []Setting
	for _, d := range s.Find(name) {
		out = append(out, Setting{Text: d.Text(d.File.Content), File: d.File.Path, Line: d.Line})
	}
	if len(out) > 0 {
		return out
	}
	for _, d := range c.HTTP {
		if d.Name == name {
			out = append(out, Setting{Text: d.Text(d.File.Content), File: d.File.Path, Line: d.Line, Inherited: true})
		}
	}
	return out
}

func (c *NginxConfig) value(s NginxServer, name string) string {
	if ds := s.Find(name); len(ds) > 0 && len(ds[0].Args) > 0 {
		return ds[0].Args[0]
	}
	for _, d := range c.HTTP {
		if d.Name == name && len(d.Args) > 0 {
			return d.Args[0]
		}
	}
	return ""
}

// ServerAt returns the server block of file:line.
func (c *NginxConfig) ServerAt(file string, line int) (NginxServer, bool) {
	for _, s := range c.Servers {
		if (s.File.Path == file || RealPath(s.File.Path) == file) && s.Line == line {
			return s, true
		}
	}
	return NginxServer{}, false
}
