// Package sites finds the TLS server blocks that serve a rollout's
// hostnames today, from the server's own view of its configuration (nginx
// -T, Apache's DUMP_VHOSTS plus the vhost files, HAProxy's config), so that
// origin/inplace can add client-certificate verification to the operator's
// existing site instead of writing a competing one (certbot's approach).
package sites

import (
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
)

// Match says how a block's names matched a hostname.
type Match string

// Match kinds. Only Exact is edited without the operator's confirmation: a
// wildcard or regex block serves other hostnames the rollout does not name.
const (
	Exact    Match = "exact"
	Wildcard Match = "wildcard"
	Regex    Match = "regex"
)

// Block is one TLS server block (nginx server, Apache <VirtualHost>,
// HAProxy frontend).
type Block struct {
	Server render.Server `json:"server"`
	// File is the file as the server names it (a sites-enabled symlink
	// stays a symlink path); RealFile is where its bytes are, the file an
	// edit must write.
	File     string `json:"file"`
	RealFile string `json:"real_file"`
	Line     int    `json:"line"`
	EndLine  int    `json:"end_line"`
	// Section is the block's name where the server has one (HAProxy frontend).
	Section string   `json:"section,omitempty"`
	Listen  []string `json:"listen"` // as written, e.g. "443 ssl", "[::]:443 ssl", "*:443"
	Names   []string `json:"names"`  // server_name / ServerName + ServerAlias / certificate names
	// Certificate is the server certificate file (the block's own or the
	// inherited one); empty when none was found.
	Certificate string `json:"certificate,omitempty"`
	// Key is the certificate's private key file as configured (Apache
	// without SSLCertificateKeyFile reads it from the certificate file;
	// HAProxy always does, so its blocks leave Key empty).
	Key           string `json:"key,omitempty"`
	DefaultServer bool   `json:"default_server,omitempty"`
	// ClientAuth lists the client-verification directives already in
	// effect for the block, as written, with their file:line.
	ClientAuth []Setting `json:"client_auth,omitempty"`
}

// Setting is one directive as the operator wrote it.
type Setting struct {
	Text string `json:"text"`
	File string `json:"file"`
	Line int    `json:"line"`
	// Inherited is set when it comes from an enclosing level (nginx http).
	Inherited bool `json:"inherited,omitempty"`
}

// Where is "file:line".
func (s Setting) Where() string { return s.File + ":" + strconv.Itoa(s.Line) }

// Where is "file:line" of the block.
func (b Block) Where() string { return b.File + ":" + strconv.Itoa(b.Line) }

// Found is one matching block for a hostname.
type Found struct {
	Block
	// Hostname is the hostname looked up.
	Hostname string `json:"-"`
	Match    Match  `json:"match"`
	// Pattern is the server_name (or alias, or certificate name) that matched.
	Pattern string `json:"pattern"`
	// Others are the block's other hostnames: they get AOP too if the block is edited.
	Others []string `json:"others,omitempty"`
}

// Reason says why a hostname has no TLS block.
type Reason string

// Reasons.
const (
	NotFound  Reason = "not-found"  // no block names it
	PlainOnly Reason = "plain-only" // only blocks without TLS (e.g. port 80)
	// DefaultOnly: no block names it; a default TLS server would answer.
	DefaultOnly Reason = "default-only"
)

// Host is the discovery result for one hostname.
type Host struct {
	Hostname string  `json:"hostname"`
	Blocks   []Found `json:"blocks"`
	// Flagged is set when every block matched only through a wildcard or
	// regex name: editing it changes other hostnames too.
	Flagged bool   `json:"flagged,omitempty"`
	Reason  Reason `json:"reason,omitempty"`
	// Detail explains Reason or Flagged in product terms.
	Detail string `json:"detail,omitempty"`
}

// OK reports whether the hostname has a block edited without confirmation.
func (h Host) OK() bool { return len(h.Blocks) > 0 && !h.Flagged }

// Config is a server's parsed view: every TLS-capable block.
type Config struct {
	Server render.Server
	Blocks []ServerBlock
	// Notes are things discovery could not judge (e.g. an unreadable file).
	Notes []string
}

// ServerBlock is a block plus whether it listens with TLS.
type ServerBlock struct {
	Block
	TLS bool
}

// Lookup finds the blocks serving each hostname.
func (c *Config) Lookup(hostnames []string) []Host {
	out := make([]Host, 0, len(hostnames))
	for _, h := range hostnames {
		out = append(out, c.lookup(strings.ToLower(strings.TrimSuffix(h, "."))))
	}
	return out
}

func (c *Config) lookup(host string) Host {
	res := Host{Hostname: host, Blocks: []Found{}}
	var exact, loose []Found
	plain := false
	var defaults []string
	for _, b := range c.Blocks {
		if b.TLS && b.DefaultServer {
			defaults = append(defaults, b.Where())
		}
		pat, m, ok := matchNames(c.Server, b.Names, host)
		if !ok {
			continue
		}
		if !b.TLS {
			plain = true
			continue
		}
		f := Found{Block: b.Block, Hostname: host, Match: m, Pattern: pat}
		for _, n := range b.Names {
			if !strings.EqualFold(n, host) {
				f.Others = append(f.Others, n)
			}
		}
		if m == Exact {
			exact = append(exact, f)
		} else {
			loose = append(loose, f)
		}
	}
	switch {
	case len(exact) > 0:
		res.Blocks = exact
	case len(loose) > 0:
		res.Blocks = loose
		res.Flagged = true
		res.Detail = "matched only by a wildcard or regex name, which serves other hostnames too: edit it only after confirming that"
	case plain:
		res.Reason = PlainOnly
		res.Detail = "served only without TLS (e.g. port 80): add a TLS listener and certificate for it first (Cloudflare's SSL mode Full needs one), or write a new managed block"
	case len(defaults) > 0:
		res.Reason = DefaultOnly
		res.Detail = "no block names it; the default TLS server at " + strings.Join(defaults, ", ") + " answers it: name the hostname there, or write a new managed block"
	default:
		res.Reason = NotFound
		res.Detail = "no TLS block names it: add the hostname to the site that serves it, or write a new managed block"
	}
	return res
}

// matchNames returns the first name of a block that matches host, the
// way the server picks: exact names first, then wildcards, then regexes.
func matchNames(s render.Server, names []string, host string) (string, Match, bool) {
	for _, n := range names {
		if strings.EqualFold(n, host) {
			return n, Exact, true
		}
	}
	for _, n := range names {
		if wildcardMatch(s, strings.ToLower(n), host) {
			return n, Wildcard, true
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, "~") && regexMatch(n[1:], host) {
			return n, Regex, true
		}
	}
	return "", "", false
}

// Hostnames of every TLS block, sorted (for listing all sites).
func (c *Config) Hostnames() []string {
	seen := map[string]bool{}
	var out []string
	for _, b := range c.Blocks {
		if !b.TLS {
			continue
		}
		for _, n := range b.Names {
			n = strings.ToLower(n)
			if n == "" || n == "_" || strings.ContainsAny(n, "*~") || strings.HasPrefix(n, ".") || seen[n] {
				continue
			}
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// DialAddrs are the block's listen addresses as a local client dials them
// (wildcards become loopback), for the listener check after a reload:
// nginx "443 ssl" and "[::]:443 ssl", Apache "*:443" and "_default_:443",
// HAProxy ":443", ":::443" and "ipv4@…". Duplicates are dropped, and
// what is not an address (a unix socket) is skipped.
func (b Block) DialAddrs() []string {
	var out []string
	for _, l := range b.Listen {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		a := f[0]
		if i := strings.Index(a, "@"); i >= 0 {
			a = a[i+1:]
		}
		a = strings.Replace(a, "_default_:", "*:", 1)
		if strings.HasPrefix(a, ":::") { // HAProxy's IPv6 wildcard
			a = "[::]:" + a[3:]
		}
		d := server.DialAddr(a)
		if _, port, err := net.SplitHostPort(d); err != nil || strings.Trim(port, "0123456789") != "" || slices.Contains(out, d) {
			continue
		}
		out = append(out, d)
	}
	return out
}
