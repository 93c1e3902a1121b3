package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
)

type originSitesFlags struct {
	server, config, binary, errorLog string
	hostnames                        []string
	json                             bool
}

func newOriginSitesCmd() *cobra.Command {
	var f originSitesFlags
	cmd := &cobra.Command{
		Use:   "sites",
		Short: "List the existing TLS sites (server blocks) that serve each hostname",
		Long: "sites reads the web server's own view of its configuration (nginx -T, Apache's\n" +
			"DUMP_VHOSTS and the virtual-host files, HAProxy's frontends with `bind ... ssl crt`) and\n" +
			"lists, per hostname, the TLS blocks that serve it today: file:line, listen addresses,\n" +
			"certificate, the client-verification directives already in effect, and the other\n" +
			"hostnames of the block (they get AOP too when the block is edited). A hostname matched\n" +
			"only by a wildcard or regex name is flagged; one without a TLS block says why.\n\n" +
			"Without --hostname every hostname of every TLS block is listed.\n\n" +
			"Exit status: 0 when every hostname has a TLS block, 1 when one has none (or the\n" +
			"configuration cannot be read), 2 for bad flags.",
		Example: "  aopwizard origin sites --server nginx --hostname example.com --hostname www.example.com\n" +
			"  aopwizard origin sites --server apache --json\n" +
			"  aopwizard origin sites --server nginx --config /opt/nginx/nginx.conf --binary /opt/nginx/sbin/nginx",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runOriginSites(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "nginx, apache or haproxy (default: the only one installed)")
	fl.StringArrayVar(&f.hostnames, "hostname", nil, "hostname to look up (repeatable; default: every hostname of every TLS block)")
	fl.BoolVar(&f.json, "json", false, "print the result as JSON on stdout")
	fl.StringVar(&f.config, "config", "", "main config file (default: Debian's /etc/nginx/nginx.conf, /etc/apache2/apache2.conf, /etc/haproxy/haproxy.cfg)")
	fl.StringVar(&f.binary, "binary", "", "server binary (default /usr/sbin/nginx, /usr/sbin/apache2, /usr/sbin/haproxy)")
	fl.StringVar(&f.errorLog, "error-log", "", "nginx -e error log (absolute), for layouts without /var/log/nginx")
	return cmd
}

// sitesReport is the --json shape.
type sitesReport struct {
	Server string       `json:"server"`
	Hosts  []sites.Host `json:"hosts"`
	Notes  []string     `json:"notes,omitempty"`
}

var errNoTLSBlock = errors.New("a hostname has no TLS block")

func runOriginSites(cmd *cobra.Command, f originSitesFlags) error {
	if f.server == "" {
		kind, err := pickServer(server.Detect())
		if err != nil {
			return err
		}
		f.server = string(kind)
	}
	kind, err := server.ParseKind(f.server)
	if err != nil {
		return asUsage(err)
	}
	for _, h := range f.hostnames {
		if h == "" || strings.ContainsAny(h, " \t/:") {
			return usagef("--hostname %q is not a hostname: give a name such as www.example.com", h)
		}
	}
	d, err := server.Overrides{Config: f.config, Binary: f.binary, ErrorLog: f.errorLog}.Driver(kind)
	if err != nil {
		return err
	}
	cfg, err := sites.Discover(cmd.Context(), server.NewExecRunner(nil), d)
	if err != nil {
		return err
	}
	names := f.hostnames
	if len(names) == 0 {
		names = cfg.Hostnames()
	}
	rep := sitesReport{Server: string(kind), Hosts: cfg.Lookup(names), Notes: cfg.Notes}
	if rep.Hosts == nil {
		rep.Hosts = []sites.Host{}
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printSites(out, rep)
	}
	var missing []string
	for _, h := range rep.Hosts {
		if len(h.Blocks) == 0 {
			missing = append(missing, h.Hostname)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s; add TLS for it to the site that serves it, or use a new managed block", errNoTLSBlock, strings.Join(missing, ", "))
	}
	return nil
}

func printSites(w io.Writer, rep sitesReport) {
	if len(rep.Hosts) == 0 {
		fmt.Fprintf(w, "No TLS sites found in the %s configuration.\n", rep.Server)
	}
	for _, h := range rep.Hosts {
		fmt.Fprintf(w, "%s\n", h.Hostname)
		if len(h.Blocks) == 0 {
			fmt.Fprintf(w, "  no TLS block (%s): %s\n", h.Reason, h.Detail)
			continue
		}
		if h.Flagged {
			fmt.Fprintf(w, "  FLAGGED: %s\n", h.Detail)
		}
		for _, b := range h.Blocks {
			where := b.Where()
			if b.RealFile != "" && b.RealFile != b.File {
				where += " (file " + b.RealFile + ")"
			}
			if b.Section != "" {
				where += " " + b.Section
			}
			fmt.Fprintf(w, "  %s %s, matched %s by %q\n", rep.Server, where, b.Match, b.Pattern)
			def := ""
			if b.DefaultServer {
				def = " (default server)"
			}
			fmt.Fprintf(w, "    listen:       %s%s\n", strings.Join(b.Listen, "; "), def)
			cert := b.Certificate
			if cert == "" {
				cert = "(none found)"
			}
			fmt.Fprintf(w, "    certificate:  %s\n", cert)
			if len(b.ClientAuth) == 0 {
				fmt.Fprintf(w, "    client verification: none\n")
			}
			for _, s := range b.ClientAuth {
				from := ""
				if s.Inherited {
					from = ", inherited"
				}
				fmt.Fprintf(w, "    client verification: %s (%s%s)\n", s.Text, s.Where(), from)
			}
			if len(b.Others) > 0 {
				fmt.Fprintf(w, "    also serves:  %s (they get AOP too if this block is edited)\n", strings.Join(b.Others, ", "))
			}
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}
