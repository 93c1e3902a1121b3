package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/probe"
	"github.com/aopwizard/aopwizard/steps/doctor"
)

type doctorFlags struct {
	zone                  string
	origins, hostnames    []string
	logs                  []string
	clientCert, clientKey string
	timeout               time.Duration
	jsonOut               bool
}

func newDoctorCmd() *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check a zone's Authenticated Origin Pulls: levels, certificates, expiry, alerts, origins",
		Long: "doctor reads a zone's AOP state, whether or not aopwizard set it up, and reports: the SSL/TLS\n" +
			"mode; global, zone-level and per-hostname AOP and which certificate Cloudflare presents for\n" +
			"each hostname; every uploaded certificate with its status and days left (warning under 30,\n" +
			"error when expired or deployment_timed_out); associations with deleted, expired or inactive\n" +
			"certificates; expiry alert policies; Cloudflare's global CA expiry when global AOP is on.\n" +
			"With --origin it probes each origin straight (no certificate, a throwaway CA's, and with\n" +
			"--client-cert the right one) and says whether it enforces and trusts what Cloudflare\n" +
			"presents; with --log it reads the origin's evidence log and gives the share of requests\n" +
			"through Cloudflare that verified. It changes nothing.\n\n" +
			"The API token comes from " + cfapi.EnvAPIToken + " (read access: SSL and Certificates, Zone\n" +
			"Settings, Zone, Notifications).\n\n" +
			"Exit status: 0 when no finding is an error (warnings are printed but pass), 1 when any is,\n" +
			"or Cloudflare could not be read, 2 for bad flags or unreadable files.",
		Example: "  aopwizard doctor --zone example.com\n" +
			"  aopwizard doctor --zone example.com --hostname app.example.com --origin 203.0.113.10 \\\n" +
			"      --client-cert cert.crt --client-key cert.key --log /var/log/nginx/aopwizard-example.com.log --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDoctor(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.zone, "zone", "", "the zone to check, e.g. example.com (required)")
	fl.StringSliceVar(&f.origins, "origin", nil, "origin address IP[:PORT] to probe straight; repeat for several")
	fl.StringSliceVar(&f.hostnames, "hostname", nil, "hostname to check (and to probe as SNI), besides those with associations; repeat for several")
	fl.StringSliceVar(&f.logs, "log", nil, "the origin's evidence log (aop1 lines) to read; repeat for several")
	fl.StringVar(&f.clientCert, "client-cert", "", "the client certificate (PEM) uploaded to Cloudflare: adds the right-certificate probe")
	fl.StringVar(&f.clientKey, "client-key", "", "the private key (PEM) of --client-cert")
	fl.DurationVar(&f.timeout, "timeout", probe.DefaultTimeout, "time limit of each origin probe")
	fl.BoolVar(&f.jsonOut, "json", false, "print the report as JSON on stdout")
	return cmd
}

func (f doctorFlags) input() (doctor.Input, error) {
	in := doctor.Input{Zone: f.zone, Hostnames: f.hostnames, Origins: f.origins, EvidenceLogs: f.logs, ProbeTimeout: f.timeout}
	if strings.TrimSpace(f.zone) == "" {
		return in, usagef("--zone is required: the zone to check, e.g. --zone example.com")
	}
	if f.timeout <= 0 {
		return in, usagef("--timeout must be positive")
	}
	if (f.clientCert == "") != (f.clientKey == "") {
		return in, usagef("--client-cert and --client-key go together: give both or neither")
	}
	if f.clientCert != "" {
		if len(f.origins) == 0 {
			return in, usagef("--client-cert is only used to probe origins: add --origin")
		}
		c, err := probe.LoadClientCert(f.clientCert, f.clientKey)
		if err != nil {
			return in, usagef("--client-cert/--client-key: %w", err)
		}
		in.ClientCert = c
	}
	for _, l := range f.logs {
		if _, err := os.Stat(l); err != nil {
			return in, usagef("--log %s: %w", l, err)
		}
	}
	return in, nil
}

func runDoctor(cmd *cobra.Command, f doctorFlags) error {
	in, err := f.input()
	if err != nil {
		return err
	}
	client, err := cfapi.New(cfapi.ConfigFromEnv(os.Getenv))
	if err != nil {
		if errors.Is(err, cfapi.ErrNoCredentials) {
			return asUsage(err)
		}
		return err
	}
	rep, err := doctor.Diagnose(cmd.Context(), doctor.Deps{Cloudflare: client}, in)
	if err != nil {
		var ie *doctor.InputError
		if errors.As(err, &ie) {
			return usagef("%s: %w", doctorFlagOf[ie.Input], err)
		}
		return probeUsage(err)
	}
	out := cmd.OutOrStdout()
	if f.jsonOut {
		if err := writeJSON(out, doctorJSON{Report: rep, Commands: doctorCommands(rep, f)}); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	} else {
		printDoctor(out, rep, f)
	}
	if rep.Problems() {
		n := 0
		for _, fd := range rep.Findings {
			if fd.Severity == doctor.Error {
				n++
			}
		}
		return fmt.Errorf("%d problems found in zone %s: see the findings above", n, rep.Zone)
	}
	return nil
}

// doctorFlagOf names the flag that carries each doctor input.
var doctorFlagOf = map[string]string{doctor.InputZone: "--zone", doctor.InputHostname: "--hostname", doctor.InputEvidenceLog: "--log"}

// doctorJSON adds to the report the command line that applies each
// finding's action.
type doctorJSON struct {
	*doctor.Report
	Commands map[doctor.Action]string `json:"commands,omitempty"`
}

// doctorCommand is the aopwizard command line that applies an action, with
// what the doctor was told filled in and the rest left to the operator.
func doctorCommand(a doctor.Action, rep *doctor.Report, f doctorFlags) string {
	origin := "ADDR"
	if len(f.origins) > 0 {
		origin = f.origins[0]
	}
	switch a {
	case doctor.ActionNewClientCert:
		return "aopwizard pki generate --dir DIR --domain " + rep.Zone
	case doctor.ActionOriginEnforce:
		return "aopwizard origin apply --phase enforce --ca-file CA.pem (on the origin)"
	case doctor.ActionOriginSoft:
		return "aopwizard origin apply --phase soft --ca-file CA.pem (on the origin)"
	case doctor.ActionEvidence:
		log := "LOG"
		if len(f.logs) > 0 {
			log = f.logs[0]
		}
		return "aopwizard origin evidence --log " + log
	case doctor.ActionProbe:
		return "aopwizard probe --origin " + origin
	}
	return ""
}

func doctorCommands(rep *doctor.Report, f doctorFlags) map[doctor.Action]string {
	out := map[doctor.Action]string{}
	for _, fd := range rep.Findings {
		if fd.Action != "" {
			out[fd.Action] = doctorCommand(fd.Action, rep, f)
		}
	}
	return out
}

var severityMark = map[doctor.Severity]string{doctor.OK: "ok   ", doctor.Info: "info ", doctor.Warn: "WARN ", doctor.Error: "ERROR"}

func printDoctor(w io.Writer, rep *doctor.Report, f doctorFlags) {
	fmt.Fprintf(w, "zone %s (%s)  SSL/TLS mode: %s  global AOP: %s  zone-level AOP: %s\n\n",
		rep.Zone, rep.ZoneID, orDash(rep.SSLMode), onOff(rep.GlobalAOP), onOff(rep.ZoneAOP))
	certRows := make([][]string, len(rep.Certificates))
	for i, c := range rep.Certificates {
		exp := "-"
		if !c.ExpiresOn.IsZero() {
			exp = c.ExpiresOn.UTC().Format(time.DateOnly)
		}
		certRows[i] = []string{c.ID, c.Level, c.Status, exp, fmt.Sprint(c.DaysLeft)}
	}
	printTable(w, []string{"CERTIFICATE", "LEVEL", "STATUS", "EXPIRES", "DAYS LEFT"}, certRows)
	hostRows := make([][]string, len(rep.Hostnames))
	for i, h := range rep.Hostnames {
		hostRows[i] = []string{h.Hostname, string(h.Level), orDash(h.CertID), orDash(h.Association)}
	}
	printTable(w, []string{"HOSTNAME", "LEVEL THAT WINS", "CERTIFICATE", "ASSOCIATION"}, hostRows)
	if len(rep.Origins) > 0 {
		var all []probe.Result
		for _, o := range rep.Origins {
			all = append(all, o.Results...)
		}
		printProbeRows(w, probe.Judge(all, "").Results)
		fmt.Fprintln(w)
	}
	for _, fd := range rep.Findings {
		fmt.Fprintf(w, "%s %s: %s\n", severityMark[fd.Severity], fd.Code, fd.Message)
		if fd.Remedy != "" {
			fmt.Fprintf(w, "      fix: %s\n", fd.Remedy)
		}
		if cmd := doctorCommand(fd.Action, rep, f); cmd != "" {
			fmt.Fprintf(w, "      run: %s\n", cmd)
		}
	}
	counts := map[doctor.Severity]int{}
	for _, fd := range rep.Findings {
		counts[fd.Severity]++
	}
	fmt.Fprintf(w, "\n%d errors, %d warnings\n", counts[doctor.Error], counts[doctor.Warn])
}

// printTable prints rows under header in aligned columns, then a blank
// line; nothing when there are no rows.
func printTable(w io.Writer, header []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
