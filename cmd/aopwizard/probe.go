package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/origin/probe"
)

type probeFlags struct {
	origins, snis      []string
	host, path         string
	cert, key          string
	caCert, caKey      string
	originCA           string
	timeout, alertWait time.Duration
	tlsMax, expect     string
	concurrency        int
	jsonOut, noWrongCA bool
}

func newProbeCmd() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Connect straight to the origin with and without client certificates and classify the answers",
		Long: "probe bypasses Cloudflare and connects to each origin address with each SNI, in up to four\n" +
			"cases: no client certificate, the right one (--cert/--key), one from a throwaway CA, and an\n" +
			"expired one from your CA (only with --ca-cert/--ca-key, which issue it on the fly). Each\n" +
			"answer is classified: accepted (HTTP n), rejected at HTTP (400 …, nginx), rejected at TLS\n" +
			"(alert: …, Apache/HAProxy), unreachable (refused | timeout | DNS) or inconclusive.\n\n" +
			"Exit status: 0 when every probe got an answer (and met --expect), 1 when any probe was\n" +
			"unreachable or inconclusive or missed --expect, 2 for bad flags or unreadable files.",
		Example: "  aopwizard probe --origin 203.0.113.10:443 --sni www.example.com --cert aop.pem --key aop.key\n" +
			"  aopwizard probe --origin 203.0.113.10 --sni a.example.com --sni b.example.com \\\n" +
			"      --cert aop.pem --key aop.key --ca-cert ca.pem --ca-key ca.key --expect enforce --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runProbe(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.origins, "origin", nil, "the origin's address IP[:PORT] (port 443 if omitted; IPv6 with a port in brackets: [2001:db8::1]:443); repeat for several")
	fl.StringSliceVar(&f.snis, "sni", nil, "server name (SNI, also the Host header) to probe; repeat for several; none = probe without SNI")
	fl.StringVar(&f.host, "host", "", "the HTTP Host header for every probe (default: the SNI); set it to another name to test SNI/Host mismatch (expect 421)")
	fl.StringVar(&f.path, "path", "/", "request path")
	fl.StringVar(&f.cert, "cert", "", "the client certificate (PEM) the origin must accept: the one uploaded to Cloudflare")
	fl.StringVar(&f.key, "key", "", "the private key (PEM) of --cert")
	fl.StringVar(&f.caCert, "ca-cert", "", "the CA certificate (PEM) that issued --cert; with --ca-key it enables the expired case")
	fl.StringVar(&f.caKey, "ca-key", "", "the private key (PEM) of --ca-cert, used only in memory to issue an expired test certificate")
	fl.StringVar(&f.originCA, "origin-ca", "", "the CA bundle (PEM) to verify the origin's own server certificate; problems are reported apart from client auth (default: not checked)")
	fl.DurationVar(&f.timeout, "timeout", probe.DefaultTimeout, "time limit of each probe (dial, handshake, request)")
	fl.DurationVar(&f.alertWait, "alert-wait", probe.DefaultAlertWait, "longest wait for a TLS 1.3 alert before sending the request, when a connection reset hid the first answer and the probe asks again; raise it on slow links")
	fl.StringVar(&f.tlsMax, "tls-max", "1.3", "highest TLS version to offer: 1.3 or 1.2 (rejections look different on each)")
	fl.StringVar(&f.expect, "expect", "", "check the results against a phase: soft (all accepted) or enforce (only the right certificate accepted); exit 1 on a mismatch")
	fl.IntVar(&f.concurrency, "concurrency", 8, "probes to run at once")
	fl.BoolVar(&f.noWrongCA, "no-wrong-ca", false, "skip the throwaway-CA case")
	fl.BoolVar(&f.jsonOut, "json", false, "print the results as JSON on stdout")
	return cmd
}

func runProbe(cmd *cobra.Command, f probeFlags) error {
	targets, cases, phase, err := f.plan()
	if err != nil {
		return err
	}
	results := make([]probe.Result, len(targets)*len(cases))
	_, err = probe.Run(cmd.Context(), targets, cases, probe.RunOptions{
		Concurrency: f.concurrency,
		OnResult:    func(i int, r probe.Result) { results[i] = r },
	})
	if err != nil {
		return probeUsage(err)
	}
	if err := cmd.Context().Err(); err != nil {
		return err
	}
	v := probe.Judge(results, phase)
	out := cmd.OutOrStdout()
	if f.jsonOut {
		if err := writeJSON(out, v); err != nil {
			return fmt.Errorf("write results: %w", err)
		}
	} else {
		printProbeRows(out, v.Results)
	}
	if !v.OK() {
		return errors.New(v.Summary())
	}
	return nil
}

// probeFlagOf names the flag that carries each probe input.
var probeFlagOf = map[probe.Input]string{
	probe.InputOrigin: "--origin", probe.InputSNI: "--sni", probe.InputHost: "--host",
	probe.InputPath: "--path", probe.InputTimeout: "--timeout", probe.InputTLSVersion: "--tls-max",
	probe.InputClientCert: "--cert/--key", probe.InputCA: "--ca-cert/--ca-key",
}

// probeUsage turns the probe package's input errors into usage errors
// (exit 2) that name the flag.
func probeUsage(err error) error {
	var ie *probe.InputError
	if errors.As(err, &ie) {
		if fl := probeFlagOf[ie.Input]; fl != "" {
			return usagef("%s: %w", fl, err)
		}
		return asUsage(err)
	}
	return err
}

// plan validates the flags and loads the certificates. Every problem is
// a usage error (exit 2).
func (f probeFlags) plan() ([]probe.Target, []probe.Case, probe.Phase, error) {
	var phase probe.Phase
	if f.expect != "" {
		p, err := probe.ParsePhase(f.expect)
		if err != nil {
			return nil, nil, "", usagef("--expect: %w", err)
		}
		phase = p
	}
	if len(f.origins) == 0 {
		return nil, nil, "", usagef("--origin is required: give the origin's IP address (and port), e.g. --origin 203.0.113.10:443")
	}
	if f.concurrency < 1 || f.timeout <= 0 || f.alertWait <= 0 {
		return nil, nil, "", usagef("--concurrency, --timeout and --alert-wait must be positive")
	}
	var maxVer uint16
	switch f.tlsMax {
	case "1.3":
		maxVer = tls.VersionTLS13
	case "1.2":
		maxVer = tls.VersionTLS12
	default:
		return nil, nil, "", usagef("--tls-max %q is not supported: use 1.3 or 1.2", f.tlsMax)
	}
	var roots *x509.CertPool
	if f.originCA != "" {
		var err error
		if roots, err = loadOriginCA(f.originCA); err != nil {
			return nil, nil, "", err
		}
	}
	targets, err := probe.Targets(f.origins, f.snis, probe.Target{
		Host: f.host, Path: f.path, RootCAs: roots,
		Timeout: f.timeout, AlertWait: f.alertWait, MaxVersion: maxVer,
	})
	if err != nil {
		return nil, nil, "", probeUsage(err)
	}
	cases, err := f.cases()
	if err != nil {
		return nil, nil, "", err
	}
	return targets, cases, phase, nil
}

func (f probeFlags) cases() ([]probe.Case, error) {
	var o probe.CaseOptions
	if (f.cert == "") != (f.key == "") {
		return nil, usagef("--cert and --key go together: give both (the client certificate and its key) or neither")
	}
	if f.cert != "" {
		right, err := probe.LoadClientCert(f.cert, f.key)
		if err != nil {
			return nil, probeUsage(err)
		}
		o.Right = right
	}
	if (f.caCert == "") != (f.caKey == "") {
		return nil, usagef("--ca-cert and --ca-key go together: give both to enable the expired case, or neither")
	}
	if f.caCert != "" {
		ca, err := probe.LoadCA(f.caCert, f.caKey)
		if err != nil {
			return nil, probeUsage(err)
		}
		o.CA = ca
	}
	o.NoWrongCA = f.noWrongCA
	return probe.StandardCases(o)
}

func printProbeRows(w io.Writer, rows []probe.Checked) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ORIGIN\tSNI\tCASE\tRESULT")
	for _, r := range rows {
		sni := r.SNI
		if sni == "" {
			sni = "(none)"
		}
		res := r.Result.String()
		if r.Meets != nil {
			if *r.Meets {
				res = "✓ " + res
			} else {
				res = "✗ " + res + " — " + r.Why
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Addr, sni, r.Case, res)
	}
	_ = tw.Flush()
	printProbeNotes(w, rows)
}

// printProbeNotes lists, once per origin and SNI, the CA names the origin
// announced and any server-certificate problem.
func printProbeNotes(w io.Writer, rows []probe.Checked) {
	seen := map[string]bool{}
	for _, r := range rows {
		key := r.Addr + " " + r.SNI
		if seen[key] || (len(r.AcceptableCAs) == 0 && r.ServerCertError == "" && !r.CertRequested) {
			continue
		}
		seen[key] = true
		label := r.Addr
		if r.SNI != "" {
			label += " (" + r.SNI + ")"
		}
		switch {
		case len(r.AcceptableCAs) > 0:
			fmt.Fprintf(w, "%s announces client CAs: %s\n", label, strings.Join(r.AcceptableCAs, "; "))
		case r.CertRequested:
			fmt.Fprintf(w, "%s asks for a client certificate but announces no CA names (inconclusive, not a failure)\n", label)
		}
		if r.ServerCertError != "" {
			fmt.Fprintf(w, "%s server certificate does not verify with --origin-ca: %s\n", label, r.ServerCertError)
		}
	}
	for _, r := range rows {
		if r.Kind == probe.KindRight && r.OurCAAnnounced != nil && !*r.OurCAAnnounced {
			fmt.Fprintf(w, "%s (%s): the issuer of --cert is not among the announced CAs: the origin trusts a different CA\n", r.Addr, r.SNI)
		}
	}
}
