package inplace

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// nginxConflicts are server-level directives that would clash with ours:
// nginx refuses a second ssl_client_certificate or ssl_verify_depth
// ("directive is duplicate"), and an existing ssl_verify_client decides
// who is served.
var nginxConflicts = []string{"ssl_verify_client", "ssl_client_certificate", "ssl_verify_depth"}

// NginxLogFormatName is the log_format inplace adds at http level. It
// differs from the managed renderer's name so both can coexist.
func NginxLogFormatName(id string) string { return "aopwizard_inplace_" + id }

// nginxSoftLocation is the named location the soft phase's error_page 495
// hands wrong-CA and expired certificates to. try_files' last parameter is
// an internal redirect to the request's own URI and arguments (method and
// body kept, server-level rewrites run again), so the site's normal
// locations answer exactly as for a valid certificate; the first parameter
// names a file that never exists. See docs/origin-servers.md, "Soft phase
// on an existing nginx site".
const nginxSoftLocation = "@aopwizard_soft"

// PlanNginx plans the in-place change of an nginx config read by `nginx -T`
// (sites.LoadNginx). Files are read from disk and must still match the
// dump.
func PlanNginx(cfg *sites.NginxConfig, in Input) (*Plan, error) {
	// A server block or virtual host has one client CA.
	if err := in.validate(true); err != nil {
		return nil, err
	}
	p := &Plan{}
	ed := &editor{}
	load := func(f *sites.NginxFile) (*fileOps, []span, error) {
		fo, err := ed.load(f.Path, f.Content, in.ID)
		if err != nil {
			return nil, nil, err
		}
		return fo, fo.spans, nil
	}
	ordinal := map[string]int{}
	logName := NginxLogFormatName(in.ID)
	for _, b := range in.blocks() {
		s, ok := cfg.ServerAt(b.File, b.Line)
		if !ok {
			return nil, fmt.Errorf("no server block at %s in the configuration nginx read; read it again", b.Where())
		}
		fo, sp, err := load(s.File)
		if err != nil {
			return nil, err
		}
		where := b.Where()
		warnShared(p, b)
		ours := func(d sites.NginxAt) bool {
			return d.File == s.File && inSpans(sp, d.Start)
		}
		var resolve []sites.NginxAt
		for _, name := range nginxConflicts {
			own := 0
			for _, d := range s.Find(name) {
				if ours(d) {
					continue
				}
				own++
				p.Conflicts = append(p.Conflicts, nginxConflict(d, where, s.File, "commented out; the aopwizard block sets it"))
				resolve = append(resolve, d)
			}
			if own == 0 {
				for _, set := range cfg.Settings(s, name) {
					if set.Inherited {
						p.Conflicts = append(p.Conflicts, Conflict{Setting: set, Block: where, Resolution: "left as it is (other servers use it); the aopwizard block overrides it for this server"})
					}
				}
			}
		}
		for _, d := range s.Find("error_page") {
			if !ours(d) && slices.Contains(d.Args, "495") {
				p.Conflicts = append(p.Conflicts, nginxConflict(d, where, s.File, "commented out; the soft phase needs its own handler for status 495"))
				resolve = append(resolve, d)
			}
		}
		// access_log at server level replaces the inherited ones, so
		// adding the evidence log must repeat them, and an "off" must go.
		var ownLogs []sites.NginxAt
		for _, d := range s.Find("access_log") {
			if !ours(d) {
				ownLogs = append(ownLogs, d)
			}
		}
		var logLines []string
		for _, d := range ownLogs {
			if len(d.Args) > 0 && d.Args[0] == "off" {
				p.Conflicts = append(p.Conflicts, nginxConflict(d, where, s.File, "commented out; the server then logs to the evidence log only, as before it logged nothing"))
				resolve = append(resolve, d)
			}
		}
		if len(ownLogs) == 0 {
			inherited := false
			for _, d := range cfg.HTTP {
				if d.Name == "access_log" {
					inherited = true
					if len(d.Args) > 0 && d.Args[0] != "off" {
						logLines = append(logLines, "# repeated from the http level ("+d.File.Path+"): an access_log here replaces the inherited ones", d.Text(d.File.Content))
					}
				}
			}
			if !inherited {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s logs to nginx's compiled-in access log, which an access_log in the block turns off: add that log to the block by hand if you need it", where))
			}
		}
		for _, d := range nestedFind(s.Block, "access_log") {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s:%d: a location with its own access_log: its requests do not reach the evidence log", s.File.Path, d.Line))
		}
		if len(resolve) > 0 && in.Override {
			for _, d := range resolve {
				if d.File != s.File {
					return p, fmt.Errorf("%w: %s:%d (%s) is in an included file other blocks may share; change it there by hand", ErrConflict, d.File.Path, d.Line, d.Text(d.File.Content))
				}
				commentOut(fo, d.Start, d.End, in.ID)
			}
		}
		ordinal[fo.path]++
		indent := indentOf(fo.src, s.Start) + "    "
		if len(s.Block) > 0 && s.Block[0].Line != s.Line {
			indent = indentOf(fo.src, s.Block[0].Start)
		}
		recursive := false
		if in.Phase == render.Soft {
			var w string
			recursive, w = nginxRecursive(cfg, s, ours)
			if w != "" {
				p.Warnings = append(p.Warnings, where+": "+w)
			}
		}
		lines := nginxServerLines(in, in.caFile(b), logName, logLines, recursive, nginxInternalGuards(s.Block))
		insertBlock(fo, sp, s.Open, s.Close, markerID(in.ID, ordinal[fo.path]), indent, lines)
	}
	if hasOwn(p.Conflicts) && !in.Override {
		return p, fmt.Errorf("%w: %s; confirm to replace them (the originals are kept as comments and restored on rollback)", ErrConflict, conflictList(p.Conflicts))
	}
	if cfg.HTTPBlock == nil {
		return nil, fmt.Errorf("no http block in %s: the evidence log format cannot be defined", cfg.Files[0].Path)
	}
	h := cfg.HTTPBlock
	fo, sp, err := load(h.File)
	if err != nil {
		return nil, err
	}
	mid := in.ID + "/log_format"
	lines := []string{fmt.Sprintf("log_format %s %s;", logName, strings.ReplaceAll(render.LogFormat(render.Nginx), "\n        ", "\n    "))}
	if s, ok := spanByID(sp, mid); ok {
		fo.ops = append(fo.ops, op{start: s.start, end: s.end, text: framed(mid, indentOf(fo.src, s.start), splitLines(lines))})
	} else {
		indent := indentOf(fo.src, h.Start) + "    "
		if len(h.Block) > 0 && h.Block[0].Line != h.Line {
			indent = indentOf(fo.src, h.Block[0].Start)
		}
		at := h.Open + 1
		if nl := bytes.IndexByte(fo.src[at:], '\n'); nl >= 0 && strings.TrimSpace(string(fo.src[at:at+nl])) == "" {
			fo.ops = append(fo.ops, op{start: at + nl + 1, end: at + nl + 1, text: framed(mid, indent, splitLines(lines))})
		} else {
			fo.ops = append(fo.ops, op{start: at, end: at, text: "\n" + framed(mid, indent, splitLines(lines))})
		}
	}
	edits, err := ed.edits()
	if err != nil {
		return nil, err
	}
	p.Edits = edits
	return p, nil
}

func splitLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(l, "\n")...)
	}
	return out
}

func spanByID(spans []span, id string) (span, bool) {
	for _, s := range spans {
		if s.id == id {
			return s, true
		}
	}
	return span{}, false
}

func nginxConflict(d sites.NginxAt, block string, server *sites.NginxFile, resolution string) Conflict {
	set := sites.Setting{Text: d.Text(d.File.Content), File: d.File.Path, Line: d.Line}
	if d.File != server {
		resolution = "in an included file: change it there by hand"
	}
	return Conflict{Setting: set, Block: block, Resolution: resolution}
}

func hasOwn(cs []Conflict) bool {
	for _, c := range cs {
		if !c.Inherited {
			return true
		}
	}
	return false
}

func conflictList(cs []Conflict) string {
	var parts []string
	for _, c := range cs {
		if !c.Inherited {
			parts = append(parts, c.String())
		}
	}
	return strings.Join(parts, "; ")
}

// nginxServerLines are the directives added to one server block.
func nginxServerLines(in Input, ca, logName string, inheritedLogs []string, recursive bool, guards []string) []string {
	var l []string
	if in.Phase == render.Soft {
		l = append(l,
			"# aopwizard soft phase: ask for the AOP client certificate, serve every request as before",
			"# and log the verification result. optional_no_ca serves a wrong-CA certificate normally;",
			"# an expired one makes nginx answer 495, which "+nginxSoftLocation+" hands back to this",
			"# site's own locations (an internal redirect to the same URI, method and body kept).",
			fmt.Sprintf("ssl_client_certificate %q;", ca),
			"ssl_verify_client optional_no_ca;",
			fmt.Sprintf("ssl_verify_depth %d;", render.VerifyDepth),
			"error_page 495 = "+nginxSoftLocation+";",
			"location "+nginxSoftLocation+" {",
		)
		if len(guards) > 0 {
			l = append(l, "    # The redirect below marks the request internal: keep the site's internal-only locations closed.")
			for _, g := range guards {
				l = append(l, "    "+g)
			}
		}
		l = append(l,
			"    try_files /.aopwizard-soft-no-such-file $uri$is_args$args;",
			"}",
		)
		if recursive {
			l = append(l,
				"# After error_page 495 nginx applies no further error_page unless this is on: it keeps",
				"# the site's own error pages for those requests.",
				"recursive_error_pages on;")
		}
	} else {
		l = append(l,
			"# aopwizard enforce phase: only requests with a client certificate from the AOP CA are served.",
			fmt.Sprintf("ssl_client_certificate %q;", ca),
			"ssl_verify_client on;",
			fmt.Sprintf("ssl_verify_depth %d;", render.VerifyDepth),
		)
		if in.Mode == render.Hostname {
			l = append(l, `if ($ssl_server_name = "") { return 421; }`)
		}
	}
	l = append(l, fmt.Sprintf("access_log %q %s;", in.AccessLog, logName))
	return append(l, inheritedLogs...)
}

// nginxRecursive decides whether the soft phase adds recursive_error_pages
// on. A request that went through error_page 495 gets none of the site's
// own error pages afterwards (nginx allows one error_page per request), so
// an expired certificate would see nginx's plain 404 page where the site
// shows its own. recursive_error_pages on keeps them; it changes nothing
// for other requests unless an error page itself fails, so it is added
// only when every error page in effect is a plain URI (a named or "="
// target may rely on stopping after one step).
func nginxRecursive(cfg *sites.NginxConfig, s sites.NginxServer, ours func(sites.NginxAt) bool) (bool, string) {
	for _, d := range s.Find("recursive_error_pages") {
		if !ours(d) {
			return false, ""
		}
	}
	var pages []*sites.Directive
	for _, d := range s.Find("error_page") {
		if !ours(d) {
			pages = append(pages, d.Directive)
		}
	}
	pages = append(pages, nestedFind(s.Block, "error_page")...)
	if len(pages) == 0 {
		for _, d := range cfg.HTTP {
			if d.Name == "error_page" {
				pages = append(pages, d.Directive)
			}
		}
	}
	plain := 0
	for _, d := range pages {
		if slices.Contains(d.Args, "495") {
			continue
		}
		target := d.Args[len(d.Args)-1]
		for _, a := range d.Args {
			if strings.HasPrefix(a, "=") {
				return false, "its error_page directives hand errors to named locations or keep the handler's status; during the soft phase a client with an expired certificate gets nginx's own error pages for those errors (same status codes)"
			}
		}
		if !strings.HasPrefix(target, "/") {
			return false, "its error_page directives redirect to other sites; during the soft phase a client with an expired certificate gets nginx's own error pages instead (same status codes)"
		}
		plain++
	}
	return plain > 0, ""
}

// nestedFind returns the directives named name inside ds's blocks
// (aopwizard's own soft location excluded).
func nestedFind(ds []*sites.Directive, name string) []*sites.Directive {
	var out []*sites.Directive
	for _, d := range ds {
		if d.Block == nil || isSoftLocation(d) {
			continue
		}
		out = append(out, sites.Find(d.Block, name)...)
		out = append(out, nestedFind(d.Block, name)...)
	}
	return out
}

// nginxInternalGuards are `if` lines for @aopwizard_soft that answer 404,
// as nginx does for a client's request to an `internal` location, to
// URIs of the site's internal locations: the soft phase's internal
// redirect would otherwise let a client with an expired certificate reach
// them. A prefix guard also covers URIs a regex location would have taken
// first; it errs on the side of closed.
func nginxInternalGuards(ds []*sites.Directive) []string {
	var out []string
	for _, d := range ds {
		if d.Name != "location" || d.Block == nil || isSoftLocation(d) {
			continue
		}
		if len(sites.Find(d.Block, "internal")) > 0 {
			if g := nginxGuard(d.Args); g != "" {
				out = append(out, g)
			}
		}
		out = append(out, nginxInternalGuards(d.Block)...)
	}
	return out
}

func nginxGuard(args []string) string {
	if len(args) == 0 {
		return ""
	}
	op, pat := "~", ""
	switch {
	case len(args) == 1 && strings.HasPrefix(args[0], "@"):
		return "" // named: no URI reaches it
	case len(args) == 1:
		pat = "^" + regexp.QuoteMeta(args[0])
	case args[0] == "=":
		pat = "^" + regexp.QuoteMeta(args[1]) + "$"
	case args[0] == "^~":
		pat = "^" + regexp.QuoteMeta(args[1])
	case args[0] == "~" || args[0] == "~*":
		op, pat = args[0], args[1]
	default:
		return ""
	}
	return fmt.Sprintf("if ($uri %s %s) { return 404; }", op, nginxQuote(pat))
}

// nginxQuote writes s as an nginx double-quoted string that reads back as
// s (nginx drops the backslash of \\ and \").
func nginxQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func isSoftLocation(d *sites.Directive) bool {
	return d.Name == "location" && len(d.Args) == 1 && d.Args[0] == nginxSoftLocation
}
