package inplace

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// apacheConflicts are vhost directives that decide client verification.
// Apache takes the last of duplicates silently, so an operator's line
// would be overridden without a word: each is shown and, with Override,
// commented out.
var apacheConflicts = []string{"SSLVerifyClient", "SSLCACertificateFile", "SSLCACertificatePath", "SSLVerifyDepth"}

// PlanApache plans the in-place change of the <VirtualHost> sections that
// Apache's DUMP_VHOSTS named (sites.LoadApache).
func PlanApache(cfg *sites.ApacheConfig, in Input) (*Plan, error) {
	// A server block or virtual host has one client CA.
	if err := in.validate(true); err != nil {
		return nil, err
	}
	p := &Plan{}
	ed := &editor{}
	ordinal := map[string]int{}
	var resolveAll []func()
	var shared []string
	for _, b := range in.blocks() {
		v, ok := cfg.VhostAt(b.File, b.Line)
		if !ok {
			return nil, fmt.Errorf("no <VirtualHost> at %s in the configuration Apache read; read it again", b.Where())
		}
		fo, err := ed.load(v.File, v.Content, in.ID)
		if err != nil {
			return nil, err
		}
		sp := fo.spans
		where := b.Where()
		warnShared(p, b)
		logs := 0
		for _, l := range v.Lines {
			if inSpans(sp, l.Start) {
				continue
			}
			if l.Depth == 0 && (strings.EqualFold(l.Name, "CustomLog") || strings.EqualFold(l.Name, "TransferLog")) {
				logs++
			}
			for _, name := range apacheConflicts {
				if !strings.EqualFold(l.Name, name) {
					continue
				}
				res := "commented out; the aopwizard block sets it"
				if l.Depth > 0 {
					res = "commented out; per-directory client verification needs renegotiation, the aopwizard block verifies for the whole virtual host"
				}
				p.Conflicts = append(p.Conflicts, Conflict{Setting: sites.Setting{Text: strings.TrimSpace(l.Text(v.Content)), File: v.File, Line: l.Line}, Block: where, Resolution: res})
				start, end := l.Start+len(indentOf(v.Content, l.Start)), l.End
				for end > start && (v.Content[end-1] == '\n' || v.Content[end-1] == '\r') {
					end--
				}
				resolveAll = append(resolveAll, func() { commentOut(fo, start, end, in.ID) })
			}
		}
		for _, inc := range v.Included {
			for _, l := range inc.Lines {
				for _, name := range apacheConflicts {
					if strings.EqualFold(l.Name, name) {
						p.Conflicts = append(p.Conflicts, Conflict{Setting: sites.Setting{Text: strings.Join(append([]string{l.Name}, l.Args...), " "), File: inc.File, Line: l.Line}, Block: where, Resolution: "in an included file: change it there by hand"})
						shared = append(shared, inc.File+":"+strconv.Itoa(l.Line))
					}
				}
			}
		}
		for _, inc := range v.Included {
			for _, l := range inc.Lines {
				if l.Depth == 0 && (strings.EqualFold(l.Name, "CustomLog") || strings.EqualFold(l.Name, "TransferLog")) {
					logs++
				}
			}
		}
		lines := apacheLines(in, in.caFile(b))
		switch {
		case logs > 0:
		case len(cfg.ServerLogs) > 0:
			// A vhost with a CustomLog of its own no longer writes the
			// server-level logs: repeat them, as nginx's access_log is.
			for _, l := range cfg.ServerLogs {
				lines = append(lines, "# repeated from the server level ("+l.Where()+"): a CustomLog here replaces the inherited ones", l.Text)
			}
		case !cfg.ServerLogsRead:
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s has no CustomLog of its own: the evidence CustomLog inside it stops the server-wide access log for this virtual host; copy that CustomLog line into the virtual host if you need it", where))
		}
		ordinal[fo.path]++
		indent := indentOf(v.Content, v.Start) + "    "
		for _, l := range v.Lines {
			if l.Depth == 0 {
				indent = indentOf(v.Content, l.Start)
				break
			}
		}
		insertBlock(fo, sp, v.Start, v.CloseAt, markerID(in.ID, ordinal[fo.path]), indent, lines)
	}
	if len(p.Conflicts) > 0 {
		if !in.Override {
			return p, fmt.Errorf("%w: %s; confirm to replace them (the originals are kept as comments and restored on rollback)", ErrConflict, conflictList(p.Conflicts))
		}
		if len(shared) > 0 {
			return p, fmt.Errorf("%w: %s in included files other virtual hosts may share; change them there by hand", ErrConflict, strings.Join(shared, ", "))
		}
		for _, f := range resolveAll {
			f()
		}
	}
	edits, err := ed.edits()
	if err != nil {
		return nil, err
	}
	p.Edits = edits
	return p, nil
}

func apacheLines(in Input, ca string) []string {
	var l []string
	if in.Phase == render.Soft {
		l = append(l,
			"# aopwizard soft phase: ask for the AOP client certificate, serve missing and wrong-CA",
			"# certificates as before and log the result. An EXPIRED certificate is still refused with a",
			"# TLS alert (docs/origin-servers.md, \"Soft phase on Apache\").",
			fmt.Sprintf("SSLCACertificateFile %q", ca),
			"SSLVerifyClient optional_no_ca")
	} else {
		l = append(l,
			"# aopwizard enforce phase: only clients with a certificate from the AOP CA are served.",
			fmt.Sprintf("SSLCACertificateFile %q", ca),
			"SSLVerifyClient require")
	}
	l = append(l, fmt.Sprintf("SSLVerifyDepth %d", render.VerifyDepth))
	if in.Phase == render.Enforce && in.Mode == render.Hostname {
		l = append(l, "SSLStrictSNIVHostCheck on")
	}
	return append(l, fmt.Sprintf("CustomLog %q %s", in.AccessLog, render.LogFormat(render.Apache)))
}
