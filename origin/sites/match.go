package sites

import (
	"path"
	"regexp"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
)

// wildcardMatch applies a server's wildcard rules: nginx "*.example.com",
// ".example.com" (the domain and its subdomains) and "www.example.*";
// Apache ServerAlias globs; certificate SANs "*.example.com" (one label).
func wildcardMatch(s render.Server, pattern, host string) bool {
	switch {
	case strings.HasPrefix(pattern, "~"):
		return false
	case s == render.Nginx && strings.HasPrefix(pattern, "."):
		return host == pattern[1:] || strings.HasSuffix(host, pattern)
	case s == render.Nginx && strings.HasPrefix(pattern, "*."):
		// nginx's "*.example.com" matches any depth of subdomain.
		return strings.HasSuffix(host, pattern[1:]) && len(host) > len(pattern)-1
	case s == render.Nginx && strings.HasSuffix(pattern, ".*"):
		return strings.HasPrefix(host, pattern[:len(pattern)-1])
	case s == render.HAProxy && strings.HasPrefix(pattern, "*."):
		i := strings.IndexByte(host, '.')
		return i > 0 && host[i:] == pattern[1:]
	case s == render.Apache && strings.ContainsAny(pattern, "*?"):
		ok, _ := path.Match(pattern, host)
		return ok
	}
	return false
}

// regexMatch evaluates an nginx PCRE server_name with Go's regexp, which
// shares its common syntax; a pattern Go cannot compile does not match and
// is left for the operator (it is listed with the block's names).
func regexMatch(expr, host string) bool {
	re, err := regexp.Compile("(?i)" + expr)
	if err != nil {
		return false
	}
	return re.MatchString(host)
}
