package sites

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// ApacheLine is one directive line of an Apache config (continuation
// lines joined).
type ApacheLine struct {
	Name  string // as written; compare with strings.EqualFold
	Args  []string
	Line  int
	Start int // offset of the line's first byte
	End   int // offset after its newline
	Depth int // nesting inside the vhost: 0 = the vhost's own level
}

// Text is the line without its newline.
func (l ApacheLine) Text(src []byte) string {
	return strings.TrimRight(string(src[l.Start:l.End]), "\r\n")
}

// ApacheVhost is one <VirtualHost> section of a file.
type ApacheVhost struct {
	File      string
	Content   []byte
	Line      int
	EndLine   int
	Start     int // offset of the <VirtualHost line
	CloseAt   int // offset of the </VirtualHost> line
	Addrs     []string
	Lines     []ApacheLine // inside the section
	CloseLine int
	// Default is set when Apache named it the default server of an address.
	Default bool
	// DumpName is the name DUMP_VHOSTS gave it: the main server's name
	// for a vhost without ServerName (Debian's default-ssl.conf).
	DumpName string
	// Included are the vhost-level lines of files its Include and
	// IncludeOptional lines name (certificate snippets), per file.
	Included []ApacheInclude
}

// ApacheInclude is a file included inside a vhost.
type ApacheInclude struct {
	File  string
	Lines []ApacheLine
}

// Settings returns the vhost-level lines named name, its own and those of
// included files, with their files.
func (v *ApacheVhost) Settings(name string) []Setting {
	var out []Setting
	for _, l := range v.Find(name) {
		out = append(out, Setting{Text: strings.TrimSpace(l.Text(v.Content)), File: v.File, Line: l.Line})
	}
	for _, inc := range v.Included {
		for _, l := range inc.Lines {
			if l.Depth == 0 && strings.EqualFold(l.Name, name) {
				out = append(out, Setting{Text: strings.Join(append([]string{l.Name}, l.Args...), " "), File: inc.File, Line: l.Line})
			}
		}
	}
	return out
}

// args returns the arguments of the last vhost-level line named name,
// included files counted (Apache takes the last).
func (v *ApacheVhost) args(name string) []string {
	var out []string
	for _, l := range v.Find(name) {
		out = l.Args
	}
	for _, inc := range v.Included {
		for _, l := range inc.Lines {
			if l.Depth == 0 && strings.EqualFold(l.Name, name) {
				out = l.Args
			}
		}
	}
	return out
}

// parseApacheFlat parses Apache config lines. A section's opening line is
// named without its "<" ("VirtualHost", args keep the closing ">"), its
// closing line with "/" ("/VirtualHost"); Depth counts the sections
// around a line.
func parseApacheFlat(src []byte) []ApacheLine {
	var out []ApacheLine
	depth, line := 0, 0
	for off := 0; off < len(src); {
		start, startLine := off, line+1
		t := nextApacheLine(src, &off, &line)
		if t == "" || t[0] == '#' {
			continue
		}
		fields := splitApacheArgs(t)
		switch {
		case strings.HasPrefix(fields[0], "</"):
			depth--
			out = append(out, ApacheLine{Name: strings.TrimSuffix(strings.TrimPrefix(fields[0], "<"), ">"), Line: startLine, Start: start, End: off, Depth: depth})
		case strings.HasPrefix(fields[0], "<"):
			out = append(out, ApacheLine{Name: strings.TrimPrefix(fields[0], "<"), Args: fields[1:], Line: startLine, Start: start, End: off, Depth: depth})
			depth++
		default:
			out = append(out, ApacheLine{Name: fields[0], Args: fields[1:], Line: startLine, Start: start, End: off, Depth: depth})
		}
	}
	return out
}

// nextApacheLine returns the directive text starting at *off, joining
// continuation lines, and advances *off and *line past it.
func nextApacheLine(src []byte, off, line *int) string {
	var text strings.Builder
	for *off < len(src) {
		next := len(src)
		if i := bytes.IndexByte(src[*off:], '\n'); i >= 0 {
			next = *off + i + 1
		}
		l := strings.TrimRight(string(src[*off:next]), "\r\n")
		*line++
		*off = next
		if strings.HasSuffix(l, "\\") {
			text.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		text.WriteString(l)
		break
	}
	return strings.TrimSpace(text.String())
}

// Find returns the vhost-level directives named name (case-insensitive).
func (v *ApacheVhost) Find(name string) []ApacheLine {
	var out []ApacheLine
	for _, l := range v.Lines {
		if l.Depth == 0 && strings.EqualFold(l.Name, name) {
			out = append(out, l)
		}
	}
	return out
}

func splitApacheArgs(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' || s[0] == '\'' {
			if j := strings.IndexByte(s[1:], s[0]); j >= 0 {
				out = append(out, s[1:j+1])
				s = s[j+2:]
				continue
			}
		}
		j := strings.IndexAny(s, " \t")
		if j < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:j])
		s = s[j:]
	}
	return out
}

// ParseApacheVhosts returns every <VirtualHost> section in src.
func ParseApacheVhosts(file string, src []byte) ([]*ApacheVhost, error) {
	var out []*ApacheVhost
	var cur *ApacheVhost
	base := 0 // depth of the lines directly inside the current vhost
	for _, l := range parseApacheFlat(src) {
		switch {
		case strings.EqualFold(l.Name, "VirtualHost"):
			if cur != nil {
				return nil, fmt.Errorf("%s:%d: <VirtualHost> inside another one", file, l.Line)
			}
			cur = &ApacheVhost{File: file, Content: src, Line: l.Line, Start: l.Start}
			base = l.Depth + 1
			cur.Addrs = strings.Fields(strings.TrimSuffix(strings.Join(l.Args, " "), ">"))
		case strings.EqualFold(l.Name, "/VirtualHost"):
			if cur == nil {
				return nil, fmt.Errorf("%s:%d: </VirtualHost> without <VirtualHost>", file, l.Line)
			}
			cur.CloseAt, cur.CloseLine, cur.EndLine = l.Start, l.Line, l.Line
			out = append(out, cur)
			cur = nil
		case cur != nil:
			l.Depth -= base
			cur.Lines = append(cur.Lines, l)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: <VirtualHost> is not closed", file, cur.Line)
	}
	return out, nil
}

// ApacheConfig is Apache's view: the vhosts DUMP_VHOSTS names, parsed from
// their files.
type ApacheConfig struct {
	Vhosts []*ApacheVhost
	Notes  []string
	// ServerLogs are the server-level CustomLog and TransferLog lines (the
	// main config and the files it includes, outside <VirtualHost>): a
	// vhost without its own logs writes to them, and stops when it gets
	// one. ServerLogsRead says whether the main config was read for them.
	ServerLogs     []Setting
	ServerLogsRead bool
}

var dumpVhostRe = regexp.MustCompile(`(\S+) \((/[^()]+):([0-9]+)\)\s*$`)

// ApacheDumpArgv is the config test that lists the virtual hosts.
func ApacheDumpArgv(d *server.Driver) []string {
	if d.Apache2ctl {
		bin := "apache2ctl"
		if d.Binary != "" && strings.HasSuffix(d.Binary, "/apache2") {
			bin = strings.TrimSuffix(d.Binary, "apache2") + "apache2ctl"
		}
		return []string{bin, "-t", "-D", "DUMP_VHOSTS"}
	}
	return []string{d.Binary, "-t", "-D", "DUMP_VHOSTS", "-f", d.ConfigPath}
}

// LoadApache runs DUMP_VHOSTS and parses the files it names.
func LoadApache(ctx context.Context, r server.Runner, d *server.Driver) (*ApacheConfig, error) {
	out, err := r.Run(ctx, ApacheDumpArgv(d)...)
	if err != nil {
		return nil, fmt.Errorf("list Apache's virtual hosts: %w; fix the configuration until Apache's config test passes, then try again", err)
	}
	root := apacheServerRoot(d.ConfigPath)
	c, err := ParseApacheDump(out, root, os.ReadFile)
	if err != nil {
		return nil, err
	}
	c.ServerLogs, c.ServerLogsRead = ApacheServerLogs(d.ConfigPath, root, os.ReadFile)
	return c, nil
}

// ApacheServerLogs returns the server-level CustomLog and TransferLog
// lines of the main config conf and the files its Include and
// IncludeOptional lines name (relative to serverRoot), outside
// <VirtualHost> sections, as written (${VARS} kept: the vhost that repeats
// them has the same variables). ok is false when conf cannot be read.
func ApacheServerLogs(conf, serverRoot string, read func(string) ([]byte, error)) (logs []Setting, ok bool) {
	seen := map[string]bool{}
	var walk func(file string, depth int) bool
	walk = func(file string, depth int) bool {
		if seen[file] || depth > 16 {
			return true
		}
		seen[file] = true
		src, err := read(file)
		if err != nil {
			return false
		}
		inVhost := 0
		for _, l := range parseApacheFlat(src) {
			switch {
			case strings.EqualFold(l.Name, "VirtualHost"):
				inVhost++
			case strings.EqualFold(l.Name, "/VirtualHost"):
				inVhost--
			case inVhost > 0:
			case strings.EqualFold(l.Name, "CustomLog") || strings.EqualFold(l.Name, "TransferLog"):
				logs = append(logs, Setting{Text: strings.TrimSpace(l.Text(src)), File: file, Line: l.Line})
			case (strings.EqualFold(l.Name, "Include") || strings.EqualFold(l.Name, "IncludeOptional")) && len(l.Args) == 1:
				for _, f := range apacheIncludeFiles(serverRoot, l.Args[0]) {
					walk(f, depth+1)
				}
			}
		}
		return true
	}
	return logs, walk(conf, 0)
}

// apacheIncludeFiles are the files an Include pattern names: a glob, or a
// directory's files, sorted as Apache reads them.
func apacheIncludeFiles(serverRoot, pat string) []string {
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(serverRoot, pat)
	}
	if fi, err := os.Stat(pat); err == nil && fi.IsDir() {
		pat = filepath.Join(pat, "*")
	}
	files, _ := filepath.Glob(pat)
	var out []string
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			out = append(out, f)
		}
	}
	return out
}

// apacheServerRoot is the ServerRoot of the main config (relative Include
// paths are relative to it), else the config's directory.
func apacheServerRoot(conf string) string {
	src, err := os.ReadFile(conf)
	if err == nil {
		for _, l := range strings.Split(string(src), "\n") {
			f := splitApacheArgs(l)
			if len(f) == 2 && strings.EqualFold(f[0], "ServerRoot") {
				return f[1]
			}
		}
	}
	return filepath.Dir(conf)
}

// expand reads the files the vhost's own Include lines name.
func (v *ApacheVhost) expand(serverRoot string, read func(string) ([]byte, error)) []string {
	var notes []string
	for _, l := range v.Lines {
		if l.Depth != 0 || (!strings.EqualFold(l.Name, "Include") && !strings.EqualFold(l.Name, "IncludeOptional")) || len(l.Args) != 1 {
			continue
		}
		pat := l.Args[0]
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(serverRoot, pat)
		}
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			src, err := read(f)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s:%d: %v", v.File, l.Line, err))
				continue
			}
			v.Included = append(v.Included, ApacheInclude{File: f, Lines: parseApacheFlat(src)})
		}
	}
	return notes
}

// ParseApacheDump reads the "(FILE:LINE)" of every vhost DUMP_VHOSTS
// printed and parses those sections from the files (read with read).
func ParseApacheDump(out []byte, serverRoot string, read func(string) ([]byte, error)) (*ApacheConfig, error) {
	c := &ApacheConfig{}
	want := map[string]map[int]bool{}
	var order []string
	defaults := map[string]bool{}
	names := map[string]string{} // the name Apache gives each vhost
	for _, l := range strings.Split(string(out), "\n") {
		m := dumpVhostRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		name, file, line := m[1], m[2], m[3]
		n, _ := strconv.Atoi(line)
		if strings.HasPrefix(strings.TrimSpace(l), "default server ") {
			defaults[file+":"+line] = true
		}
		names[file+":"+line] = name
		if want[file] == nil {
			want[file] = map[int]bool{}
			order = append(order, file)
		}
		want[file][n] = true
	}
	for _, f := range order {
		src, err := read(f)
		if err != nil {
			return nil, fmt.Errorf("read the virtual-host file Apache named: %w", err)
		}
		vs, err := ParseApacheVhosts(f, src)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if want[f][v.Line] {
				v.Default = defaults[f+":"+strconv.Itoa(v.Line)]
				v.DumpName = names[f+":"+strconv.Itoa(v.Line)]
				c.Notes = append(c.Notes, v.expand(serverRoot, read)...)
				c.Vhosts = append(c.Vhosts, v)
				delete(want[f], v.Line)
			}
		}
		for n := range want[f] {
			c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: Apache lists a virtual host here that is not a plain <VirtualHost> line (a macro?); it was not examined", f, n))
		}
	}
	return c, nil
}

var apacheClientAuthNames = []string{"SSLVerifyClient", "SSLCACertificateFile", "SSLCACertificatePath", "SSLVerifyDepth"}

// Config is the generic view.
func (c *ApacheConfig) Config() *Config {
	out := &Config{Server: render.Apache, Notes: c.Notes}
	for _, v := range c.Vhosts {
		b := Block{Server: render.Apache, File: v.File, RealFile: RealPath(v.File), Line: v.Line, EndLine: v.EndLine, Listen: v.Addrs, DefaultServer: v.Default}
		for _, n := range v.Find("ServerName") {
			if len(n.Args) > 0 {
				// ServerName may carry a scheme and port.
				name := n.Args[0]
				if i := strings.Index(name, "://"); i >= 0 {
					name = name[i+3:]
				}
				if i := strings.LastIndexByte(name, ':'); i >= 0 && !strings.Contains(name, "]") {
					name = name[:i]
				}
				b.Names = append(b.Names, name)
			}
		}
		if len(b.Names) == 0 && v.DumpName != "" {
			b.Names = append(b.Names, v.DumpName)
		}
		for _, n := range v.Find("ServerAlias") {
			b.Names = append(b.Names, n.Args...)
		}
		e := v.args("SSLEngine")
		tls := len(e) > 0 && strings.EqualFold(e[0], "on")
		if cf := v.args("SSLCertificateFile"); len(cf) > 0 {
			b.Certificate, b.Key = cf[0], cf[0]
		}
		if kf := v.args("SSLCertificateKeyFile"); len(kf) > 0 {
			b.Key = kf[0]
		}
		for _, name := range apacheClientAuthNames {
			b.ClientAuth = append(b.ClientAuth, v.Settings(name)...)
		}
		out.Blocks = append(out.Blocks, ServerBlock{Block: b, TLS: tls})
	}
	return out
}

// VhostAt returns the vhost of file:line.
func (c *ApacheConfig) VhostAt(file string, line int) (*ApacheVhost, bool) {
	for _, v := range c.Vhosts {
		if (v.File == file || RealPath(v.File) == file) && v.Line == line {
			return v, true
		}
	}
	return nil, false
}
