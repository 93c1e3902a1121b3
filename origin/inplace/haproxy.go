package inplace

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// haproxyBindConflicts are bind options that decide client verification,
// with how many values follow each.
var haproxyBindConflicts = map[string]int{"verify": 1, "ca-file": 1, "ca-ignore-err": 1, "crt-ignore-err": 1, "crl-file": 1, "ca-verify-file": 1}

// haproxyOriginal prefixes the operator's bind line, kept as a comment
// inside the marked region that replaces it: a bind line cannot hold
// markers, and the phase switch rebuilds the line from it.
const haproxyOriginal = "# aopwizard: original line: "

// PlanHAProxy plans the in-place change of HAProxy frontends: every
// `bind ... ssl` line of the section gets ca-file and verify options
// (plus the ignore options in the soft phase, docs/origin-servers.md,
// "Soft phase on HAProxy"), and the section gets the aop1 log format.
// Per-hostname CAs (Input.HostCAFiles) go into a crt-list next to the
// config that replaces the bind line's `crt FILE`, one line per hostname
// with its CA, and a 421 guard keeps a hostname from being reached
// through another hostname's (or no) SNI.
func PlanHAProxy(cfg *sites.HAProxyConfig, in Input) (*Plan, error) {
	// A crt-list gives each hostname of a frontend its own CA.
	if err := in.validate(false); err != nil {
		return nil, err
	}
	p := &Plan{}
	ed := &editor{}
	done := map[string]bool{}
	ordinal, logs := map[string]int{}, map[string]int{}
	for _, b := range in.blocks() {
		var sec *sites.HAProxySection
		for _, s := range cfg.Sections {
			if s.File == b.File && s.Line == b.Line {
				sec = s
			}
		}
		if sec == nil {
			return nil, fmt.Errorf("no frontend at %s in the HAProxy configuration; read it again", b.Where())
		}
		if done[b.Where()] {
			continue
		}
		done[b.Where()] = true
		fo, err := ed.load(sec.File, sec.Content, in.ID)
		if err != nil {
			return nil, err
		}
		sp := fo.spans
		where := b.Where()
		warnShared(p, b)
		hostMode := len(in.HostCAFiles) > 0
		var hostnames []string
		for _, f := range in.Blocks {
			if f.File == b.File && f.Line == b.Line {
				hostnames = append(hostnames, f.Hostname)
			}
		}
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: HAProxy has one log format per frontend, so this frontend's log lines become aop1 evidence lines while AOP is configured", where))
		n := 0
		var conflicts []Conflict
		hasLog := false
		for _, l := range sec.Lines {
			if inSpans(sp, l.Start) {
				continue
			}
			switch {
			case l.Words[0] == "mode" && len(l.Words) > 1 && l.Words[1] == "tcp":
				return nil, fmt.Errorf("%s is a TCP-mode frontend: client-certificate verification in place needs HTTP mode for the evidence log; use a new managed frontend", where)
			case l.Words[0] == "log":
				hasLog = true
			case l.Words[0] == "log-format" || l.Words[0] == "error-log-format" ||
				// These set the log format too, and the last one in a section wins.
				(l.Words[0] == "option" && len(l.Words) > 1 && slices.Contains([]string{"httplog", "httpslog", "tcplog"}, l.Words[1])):
				c := Conflict{Setting: sites.Setting{Text: strings.TrimSpace(l.Text(fo.src)), File: sec.File, Line: l.Line}, Block: where, Resolution: "commented out; the aopwizard block sets the aop1 format"}
				conflicts = append(conflicts, c)
				if in.Override {
					start := l.Start + len(indentOf(fo.src, l.Start))
					commentOut(fo, start, trimEOL(fo.src, l.End), in.ID)
				}
			}
		}
		if !hasLog {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s has no log line of its own: the evidence goes to the defaults section's log target (log global); make sure it has one", where))
		}
		// Bind lines: the operator's own, and ours (rebuilt from the
		// original kept in the region).
		type bind struct {
			orig       string
			line       int
			start, end int
			indent     string
		}
		var binds []bind
		for _, l := range sec.Lines {
			if l.Words[0] != "bind" || inSpans(sp, l.Start) {
				continue
			}
			binds = append(binds, bind{orig: strings.TrimSpace(l.Text(fo.src)), line: l.Line, start: l.Start, end: l.End, indent: indentOf(fo.src, l.Start)})
		}
		var logSpan *span
		for _, s := range sp {
			if s.start < sec.Start || s.end > sec.End {
				continue
			}
			if strings.HasPrefix(s.id, in.ID+"/log") {
				logSpan = &s
				continue
			}
			for _, l := range strings.Split(string(fo.src[s.start:s.end]), "\n") {
				if t := strings.TrimSpace(l); strings.HasPrefix(t, haproxyOriginal) {
					binds = append(binds, bind{orig: strings.TrimPrefix(t, haproxyOriginal), start: s.start, end: s.end, indent: indentOf(fo.src, s.start)})
				}
			}
		}
		for _, bd := range binds {
			code, comment := bd.orig, ""
			if i := strings.Index(code, "#"); i >= 0 {
				code, comment = strings.TrimSpace(code[:i]), " "+code[i:]
			}
			words := strings.Fields(code)
			if !slices.Contains(words, "ssl") {
				continue
			}
			kept, removed := stripOptions(words)
			for _, r := range removed {
				if bd.line > 0 {
					conflicts = append(conflicts, Conflict{Setting: sites.Setting{Text: r, File: sec.File, Line: bd.line}, Block: where, Resolution: "removed from the bind line; the original line is kept as a comment in the aopwizard block"})
				}
			}
			ordinal[fo.path]++
			n++
			var opts string
			if hostMode {
				list, err := haproxyCrtList(ed, in, fo.path, cfg.CrtBase, kept, hostnames)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", where, err)
				}
				kept = replaceCrt(kept, list)
			} else {
				opts = fmt.Sprintf(" ca-file %s %s", haproxyQuote(in.caFile(b)), haproxyVerify(in.Phase))
			}
			if in.Phase == render.Soft {
				// Only valid on the bind line (docs/origin-servers.md, "Soft phase on HAProxy").
				opts += " ca-ignore-err all crt-ignore-err all"
			}
			lines := []string{haproxyOriginal + bd.orig, strings.Join(kept, " ") + opts + comment}
			fo.ops = append(fo.ops, op{start: bd.start, end: bd.end, text: framed(markerID(in.ID, ordinal[fo.path]), bd.indent, lines)})
		}
		if n == 0 {
			return nil, fmt.Errorf("%s has no bind line with ssl: add TLS to it first", where)
		}
		p.Conflicts = append(p.Conflicts, conflicts...)
		// The log format block goes after the section's last line.
		// The block follows the last bind line, before the operator's own
		// rules: HAProxy runs http-request rules in order, and the 421
		// guard must come first.
		last := binds[0]
		for _, bd := range binds[1:] {
			if bd.end > last.end {
				last = bd
			}
		}
		logs[fo.path]++
		mid := in.ID + "/log" + strconv.Itoa(logs[fo.path])
		lines := []string{
			"# aopwizard: aop1 evidence lines (docs/origin-servers.md, \"Evidence log format aop1\")",
			"log-format " + render.LogFormat(render.HAProxy),
			"error-log-format " + render.HAProxyErrorLogFormat(),
		}
		lines = append(lines, render.HAProxyLogVars()...)
		if hostMode {
			lines = append(lines,
				"# Each of these hostnames is verified against its own CA, chosen by SNI: refuse a request",
				"# that names one of them in Host but came with another SNI (or none).",
				"http-request deny deny_status 421 if { var(txn.host) -m str "+strings.Join(hostnames, " ")+" } !{ ssl_fc_sni,strcmp(txn.host) eq 0 }")
		}
		if s := logSpan; s != nil {
			fo.ops = append(fo.ops, op{start: s.start, end: s.end, text: framed(mid, indentOf(fo.src, s.start), lines)})
		} else {
			at := last.end
			text := framed(mid, last.indent, lines)
			if at > 0 && fo.src[at-1] != '\n' {
				text = "\n" + text
			}
			fo.ops = append(fo.ops, op{start: at, end: at, text: text})
		}
	}
	if len(p.Conflicts) > 0 && !in.Override {
		p.Edits = nil
		return p, fmt.Errorf("%w: %s; confirm to replace them (the originals are kept as comments and restored on rollback)", ErrConflict, conflictList(p.Conflicts))
	}
	edits, err := ed.edits()
	if err != nil {
		return nil, err
	}
	p.Edits = edits
	return p, nil
}

func trimEOL(src []byte, end int) int {
	for end > 0 && (src[end-1] == '\n' || src[end-1] == '\r') {
		end--
	}
	return end
}

// stripOptions removes the client-verification options from bind words.
func stripOptions(words []string) (kept, removed []string) {
	for i := 0; i < len(words); i++ {
		if n, ok := haproxyBindConflicts[words[i]]; ok && i > 0 {
			end := min(i+1+n, len(words))
			removed = append(removed, strings.Join(words[i:end], " "))
			i = end - 1
			continue
		}
		kept = append(kept, words[i])
	}
	return kept, removed
}

// haproxyQuote double-quotes a path for HAProxy (checkPath has rejected
// quotes, backslashes and '$', which HAProxy would interpret).
func haproxyQuote(p string) string { return `"` + p + `"` }

func haproxyVerify(phase render.Phase) string {
	if phase == render.Soft {
		return "verify optional"
	}
	return "verify required"
}

// CrtListPath is the crt-list in-place hostname mode writes for id.
func CrtListPath(configPath, id string) string {
	return filepath.Join(filepath.Dir(configPath), "aopwizard-"+id+".crt-list")
}

// haproxyCrtList plans the crt-list for a bind line's certificate: first
// the certificate for every other name it serves (the default for clients
// without SNI, unverified as before), then one line per hostname with its
// CA. The bind line must load one certificate file.
func haproxyCrtList(ed *editor, in Input, cfgPath, crtBase string, words, hostnames []string) (string, error) {
	crt := ""
	for i, w := range words {
		if w == "crt" && i+1 < len(words) {
			crt = words[i+1]
		}
		if w == "crt-list" {
			return "", fmt.Errorf("the bind line already uses a crt-list: add the ca-file and verify options to its lines by hand")
		}
	}
	if err := crtFile(crt, crtBase); err != nil {
		return "", err
	}
	path := CrtListPath(cfgPath, in.ID)
	var b strings.Builder
	b.WriteString(render.BeginMarker(in.ID) + "\n")
	b.WriteString("# aopwizard: per-hostname client CAs (HAProxy picks the line by SNI)\n")
	neg := make([]string, len(hostnames))
	for i, h := range hostnames {
		neg[i] = "!" + h
	}
	fmt.Fprintf(&b, "%s %s\n", crt, strings.Join(neg, " "))
	for _, h := range hostnames {
		ca := in.HostCAFiles[h]
		if ca == "" {
			ca = in.CAFile
		}
		if strings.ContainsAny(ca+crt, " \t") {
			return "", fmt.Errorf("a crt-list cannot hold paths with blanks (%q): move the file", ca)
		}
		fmt.Fprintf(&b, "%s [ca-file %s %s] %s\n", crt, ca, haproxyVerify(in.Phase), h)
	}
	b.WriteString(render.EndMarker(in.ID) + "\n")
	for _, c := range ed.created {
		if c.Path == path {
			if string(c.New) != b.String() {
				return "", fmt.Errorf("bind lines load different certificates: per-hostname CAs in place need one")
			}
			return path, nil
		}
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	ed.created = append(ed.created, FileEdit{Path: path, Old: old, New: []byte(b.String()), Created: old == nil})
	return path, nil
}

// crtFile checks that a bind line's crt (relative to crt-base) is one
// certificate file, the only form whose crt-list aopwizard writes: the
// error says what else works.
func crtFile(crt, crtBase string) error {
	const zone = "use zone mode instead (one CA on the bind line, for every certificate it loads)"
	if crt == "" {
		return fmt.Errorf("the bind line loads no certificate with crt: per-hostname CAs need its certificate file to list once per hostname; %s", zone)
	}
	path := crt
	if !filepath.IsAbs(path) && crtBase != "" {
		path = filepath.Join(crtBase, path)
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("read the bind line's certificate %s: %w; per-hostname CAs list that file once per hostname, so it must exist", path, err)
	case st.IsDir():
		return fmt.Errorf("the bind line loads every certificate in the directory %s (crt DIR), but per-hostname CAs need one crt-list line per hostname's certificate, which aopwizard writes only for a single certificate file: %s, or load the hostnames' certificate with crt FILE on its own bind line, or replace the directory by a crt-list yourself with \"[ca-file CA verify optional]\" on each hostname's line (docs/origin-servers.md, \"Per-hostname CAs and the 421 check\")", path, zone)
	}
	return nil
}

// replaceCrt swaps "crt FILE" for "crt-list LIST" in bind words.
func replaceCrt(words []string, list string) []string {
	out := append([]string(nil), words...)
	for i := range out {
		if out[i] == "crt" && i+1 < len(out) {
			out[i], out[i+1] = "crt-list", list
		}
	}
	return out
}
