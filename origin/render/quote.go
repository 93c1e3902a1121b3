package render

import (
	"regexp"
	"strconv"
	"strings"
)

// Every path and value that reaches a rendered file goes through a quote
// function of that file's syntax, after checkPath refused what the syntax
// cannot hold. Values made only of safeRE's characters are written bare,
// so common paths read as operators write them.
var safeRE = regexp.MustCompile(`^[A-Za-z0-9_./:@+,=-]+$`)

// hasControl reports whether s holds a control character (newline, tab,
// CR, NUL, DEL): no configuration syntax here can carry one in a path
// without ending the line or the value.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// backslashQuote double-quotes s, escaping backslash and the extra
// characters with a backslash: the rule of nginx, Apache and HAProxy
// double-quoted arguments (HAProxy also needs $ escaped there).
func backslashQuote(s string, extra ...string) string {
	pairs := []string{`\`, `\\`, `"`, `\"`}
	for _, e := range extra {
		pairs = append(pairs, e, `\`+e)
	}
	return `"` + strings.NewReplacer(pairs...).Replace(s) + `"`
}

// q quotes a value for the configuration syntax of r's server.
func (r *resolved) q(s string) string {
	if safeRE.MatchString(s) {
		return s
	}
	switch r.Server {
	case Nginx, Apache:
		return backslashQuote(s)
	case HAProxy:
		// Single quotes take everything literally, even $ and \.
		if !strings.Contains(s, "'") {
			return "'" + s + "'"
		}
		return backslashQuote(s, "$")
	case Caddy:
		// checkPath refused \ { }: Caddy's lexer keeps a backslash that
		// escapes anything but a quote, and expands {…} placeholders.
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return yamlQuote(s)
}

// yamlQuote is a YAML double-quoted scalar when s is not plain-safe. Go's
// escapes (\\, \", \xNN, \uNNNN) are YAML's too.
func yamlQuote(s string) string {
	if safeRE.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

// shellQuote quotes s for the start commands shown in comments and notes.
func shellQuote(s string) string {
	if safeRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// checkPath refuses a path that the server's syntax cannot hold exactly.
// include marks a path that a server reads as a glob pattern (nginx and
// Apache include); crtList one that goes into an HAProxy crt-list, which
// has no quoting at all.
func (r *resolved) checkPath(errs *fieldErrs, field Field, p string, include, crtList bool) {
	const move = "move or link the file to a path without them"
	switch {
	case hasControl(p):
		errs.add(field, p, "contains a control character (newline, tab, …), which no server configuration can hold in a path", move)
	case r.Server == Nginx && strings.Contains(p, "$"):
		errs.add(field, p, "contains $, which nginx reads as the start of a variable in file paths", move)
	case r.Server == Apache && strings.Contains(p, "${"):
		errs.add(field, p, "contains ${, which Apache replaces with a defined variable while it reads its configuration", move)
	case r.Server == Caddy && strings.ContainsAny(p, `\{}`):
		errs.add(field, p, "contains \\, { or }, which the Caddyfile reads as an escape or a placeholder", move)
	case include && strings.ContainsAny(p, "*?["):
		errs.add(field, p, "contains *, ? or [, which "+string(r.Server)+" reads as a wildcard pattern in an include", move)
	case crtList && !safeRE.MatchString(p):
		errs.add(field, p, "holds characters HAProxy's crt-list (used in hostname mode) cannot quote, such as spaces or quotes", "use a path of letters, digits and . _ - / only, or zone mode")
	}
}
