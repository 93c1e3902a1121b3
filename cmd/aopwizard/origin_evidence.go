package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/origin/evidence"
)

type evidenceFlags struct {
	log           string
	since         time.Duration
	from, to      string
	hostnames     []string
	rotated, json bool
}

func newOriginEvidenceCmd() *cobra.Command {
	var f evidenceFlags
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Count, per hostname, the requests that came with a valid client certificate (soft-phase proof)",
		Long: "evidence reads the soft-phase access log (aop1 lines written by the configuration aopwizard\n" +
			"renders) and counts, per hostname (SNI, else Host), the requests with a valid client\n" +
			"certificate (SUCCESS), without one (NONE) and with a failing one (FAILED, reasons tallied;\n" +
			"Apache's GENEROUS counts as failed). SUCCESS for the requests Cloudflare forwards proves the\n" +
			"edge presents the certificate the origin trusts: check it before enforcing. Lines in other\n" +
			"formats are counted as skipped. HAProxy's used=/verify= numbers are normalised.\n\n" +
			"Exit status: 0 when the log was read, 2 for bad flags or a missing log, 1 for read errors.",
		Example: "  aopwizard origin evidence --log /var/log/nginx/aopwizard-example.com.log --since 1h\n" +
			"  aopwizard origin evidence --log /var/log/haproxy.log --rotated --hostname www.example.com --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEvidence(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.log, "log", "", "evidence log (aop1 lines) to read (required)")
	fl.DurationVar(&f.since, "since", 0, "count only requests from this long ago until now, e.g. 30m or 24h (default: the whole log)")
	// A zero duration prints as "(0s)" after the text's own default.
	fl.Lookup("since").DefValue = ""
	fl.StringVar(&f.from, "from", "", "count only requests at or after this time (RFC 3339, e.g. 2026-11-22T20:00:00Z); not with --since")
	fl.StringVar(&f.to, "to", "", "count only requests at or before this time (RFC 3339)")
	fl.StringSliceVar(&f.hostnames, "hostname", nil, "report only this hostname (listed even with no requests); repeat for several")
	fl.BoolVar(&f.rotated, "rotated", false, "also read the previous generation PATH.1 (logrotate), oldest first")
	fl.BoolVar(&f.json, "json", false, "print the report as JSON on stdout")
	return cmd
}

func (f evidenceFlags) options(now time.Time) (evidence.Options, error) {
	opts := evidence.Options{Hostnames: f.hostnames}
	if f.log == "" {
		return opts, usagef("--log is required: the access log the soft-phase configuration writes aop1 lines to")
	}
	if f.since < 0 {
		return opts, usagef("--since %s is negative: give how far back to look, e.g. --since 1h", f.since)
	}
	if f.since > 0 && f.from != "" {
		return opts, usagef("--since and --from both set the window's start: use one of them")
	}
	if f.since > 0 {
		opts.From = now.Add(-f.since)
	}
	for _, t := range []struct {
		flag, val string
		dst       *time.Time
	}{{"--from", f.from, &opts.From}, {"--to", f.to, &opts.To}} {
		if t.val == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.val)
		if err != nil {
			return opts, usagef("%s %q is not an RFC 3339 time: use e.g. 2026-11-22T20:00:00Z", t.flag, t.val)
		}
		*t.dst = v
	}
	if !opts.From.IsZero() && !opts.To.IsZero() && opts.To.Before(opts.From) {
		return opts, usagef("the window ends (%s) before it starts (%s): swap --from and --to", opts.To.Format(time.RFC3339), opts.From.Format(time.RFC3339))
	}
	return opts, nil
}

func runEvidence(cmd *cobra.Command, f evidenceFlags) error {
	opts, err := f.options(time.Now())
	if err != nil {
		return err
	}
	files, err := evidence.Files(f.log, f.rotated)
	if err != nil {
		return err
	}
	rep, err := evidence.ReadFiles(cmd.Context(), files, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return asUsage(fmt.Errorf("%w; pass the evidence log the rendered configuration names (aopwizard origin render prints it)", err))
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.json {
		if err := writeJSON(out, rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		return nil
	}
	printEvidence(out, rep)
	return nil
}

func printEvidence(w io.Writer, rep *evidence.Report) {
	from, to := "the start", "the end"
	if !rep.From.IsZero() {
		from = rep.From.UTC().Format(time.RFC3339)
	}
	if !rep.To.IsZero() {
		to = rep.To.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "Evidence in %s, from %s to %s\n", strings.Join(rep.Files, " + "), from, to)
	if len(rep.Hosts) == 0 {
		fmt.Fprintln(w, "No aop1 requests in the window.")
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "HOSTNAME\tREQUESTS\tSUCCESS\tNONE\tFAILED\tLAST SUCCESS")
		for _, h := range rep.Hosts {
			last := "never"
			if !h.LastSuccess.IsZero() {
				last = h.LastSuccess.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", h.Hostname, h.Requests, h.Success, h.None, h.Failed, last)
		}
		_ = tw.Flush()
		for _, h := range rep.Hosts {
			printTally(w, h.Hostname+" failed", h.FailedReasons)
			printTally(w, h.Hostname+" verified issuers", h.Issuers)
		}
	}
	if imp := rep.Impact; imp.Cloudflare+imp.Direct > 0 {
		fmt.Fprintf(w, "Enforcing would refuse %d requests through Cloudflare (with a CF-Ray) and %d direct ones\n", imp.Cloudflare, imp.Direct)
		printClients(w, "through Cloudflare, from", imp.TopCloudflare)
		printClients(w, "direct, from", imp.TopDirect)
	}
	fmt.Fprintf(w, "%d lines read: %d counted, %d skipped (not aop1), %d outside the window, %d for other hostnames\n",
		rep.Lines, rep.Counted, rep.Skipped, rep.OutsideWindow, rep.OtherHosts)
	for _, s := range rep.FirstSkips {
		fmt.Fprintf(w, "  skipped %s:%d: %s\n", s.File, s.Line, s.Reason)
	}
}

// printClients prints "label: addr ×n; addr ×m".
func printClients(w io.Writer, label string, cs []evidence.ClientCount) {
	if len(cs) == 0 {
		return
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s ×%d", c.Client, c.Requests)
	}
	fmt.Fprintf(w, "  %s: %s\n", label, strings.Join(parts, "; "))
}

// printTally prints "label: reason ×n; other ×m", most frequent first.
func printTally(w io.Writer, label string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	fmt.Fprintf(w, "  %s: %s\n", label, strings.Join(parts, "; "))
}
