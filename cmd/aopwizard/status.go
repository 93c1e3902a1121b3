package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
)

// statusSummary is one rollout in `status --json` without an id.
type statusSummary struct {
	ID      string     `json:"id"`
	Zone    string     `json:"zone,omitempty"`
	Mode    steps.Mode `json:"mode,omitempty"`
	Step    string     `json:"step,omitempty"`
	Status  string     `json:"status,omitempty"`
	Outcome string     `json:"outcome,omitempty"`
	Updated time.Time  `json:"updated,omitzero"`
	Error   string     `json:"error,omitempty"`
}

func newStatusCmd() *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "List rollouts, or show one in detail",
		Long: "status lists every rollout in the state dir (newest first) with the step it reached, or shows\n" +
			"one rollout's steps, certificates and changes. --json prints the summaries, or the whole\n" +
			"rollout file, on stdout. A rollout file it cannot read is listed with the reason.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stateDir, err := defaultStateDir(f.stateDir)
			if err != nil {
				return err
			}
			s := steps.Store{Dir: stateDir}
			w := cmd.OutOrStdout()
			if len(args) == 1 {
				r, err := s.Load(args[0])
				if err != nil {
					return storeErr(err)
				}
				if f.jsonOut {
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(r)
				}
				printRollout(w, r)
				return nil
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			sums := make([]statusSummary, 0, len(list))
			for _, e := range list {
				sum := summarize(e)
				if sum.Status == string(steps.StatusRunning) && !s.Busy(e.ID) {
					sum.Status = "stopped while running (resume to continue)"
				}
				sums = append(sums, sum)
			}
			if f.jsonOut {
				return json.NewEncoder(w).Encode(sums)
			}
			if len(sums) == 0 {
				fmt.Fprintf(w, "no rollouts in %s; start one with `aopwizard run`\n", stateDir)
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tZONE\tMODE\tSTEP\tSTATE\tUPDATED")
			for _, x := range sums {
				if x.Error != "" {
					fmt.Fprintf(tw, "%s\t-\t-\t-\tunreadable: %s\t-\n", x.ID, x.Error)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Zone, x.Mode, orDash(x.Step), x.Status, x.Updated.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&f.stateDir, "state-dir", "", "where rollouts live "+stateDirDefault)
	cmd.Flags().BoolVar(&f.jsonOut, "json", false, "print JSON on stdout")
	return cmd
}

func summarize(e steps.Entry) statusSummary {
	if e.Err != nil {
		return statusSummary{ID: e.ID, Error: e.Err.Error()}
	}
	r := e.Rollout
	s := statusSummary{ID: r.ID, Zone: r.Zone.Name, Mode: r.Inputs.Mode, Step: string(r.Current()), Outcome: r.Outcome, Updated: r.Updated}
	switch {
	case r.RolledBack:
		s.Status = "rolled back"
	case r.Finished():
		s.Status = r.Outcome
	case r.Outcome != "" && r.Step(r.Current()).Status == steps.StatusPending:
		s.Status = r.Outcome
	default:
		s.Status = string(r.Step(r.Current()).Status)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printRollout(w io.Writer, r *steps.Rollout) {
	fmt.Fprintf(w, "Rollout %s: %s mode, zone %s", r.ID, r.Inputs.Mode, r.Zone.Name)
	if r.Zone.ID != "" {
		fmt.Fprintf(w, " (id %s)", r.Zone.ID)
	}
	fmt.Fprintf(w, "\nState: %s\nStarted %s, updated %s\n", orDash(summarize(steps.Entry{ID: r.ID, Rollout: r}).Status),
		r.Created.Local().Format(time.DateTime), r.Updated.Local().Format(time.DateTime))
	if len(r.Inputs.Hostnames) > 0 {
		fmt.Fprintf(w, "Hostnames: %s\n", strings.Join(r.Inputs.Hostnames, ", "))
	}
	fmt.Fprintln(w, "\nSteps:")
	glyph := map[steps.Status]string{steps.StatusDone: "✓", steps.StatusFailed: "✗", steps.StatusRunning: "…", steps.StatusSkipped: "-", steps.StatusPending: "·"}
	for _, s := range r.Steps {
		line := fmt.Sprintf("  %s %-12s %s", glyph[s.Status], s.Name, s.Status)
		if s.Finished != nil {
			line += " " + s.Finished.Local().Format(time.DateTime)
		}
		fmt.Fprintln(w, line)
		if s.Error != "" {
			fmt.Fprintf(w, "      error: %s\n", s.Error)
		}
		if s.Remedy != "" {
			fmt.Fprintf(w, "      what to do: %s\n", s.Remedy)
		}
	}
	if len(r.Certificates) > 0 {
		fmt.Fprintln(w, "\nCertificates:")
		for _, c := range r.Certificates {
			fmt.Fprintf(w, "  CA %s", c.CAFile)
			if c.ID != "" {
				fmt.Fprintf(w, ", Cloudflare id %s", c.ID)
			}
			if !c.NotAfter.IsZero() {
				fmt.Fprintf(w, ", expires %s", c.NotAfter.Format(time.DateOnly))
			}
			fmt.Fprintln(w)
		}
	}
	if r.Report != "" {
		fmt.Fprintf(w, "\nReport: %s\n", r.Report)
	}
	if n := len(r.Events); n > 0 {
		fmt.Fprintln(w, "\nLast events:")
		for _, e := range r.Events[max(0, n-5):] {
			fmt.Fprintf(w, "  %s %-11s %s\n", e.Time.Local().Format(time.TimeOnly), e.Step, e.Message)
		}
	}
}
