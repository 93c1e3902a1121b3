package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
	"github.com/aopwizard/aopwizard/steps/demo"
)

type demoFlags struct {
	nonInteractive, keep, jsonOut bool
	mode, origin                  string
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Try the whole rollout against a simulated Cloudflare and a local origin, nothing to set up",
		Long: "demo runs a complete rollout, from certificates to \"enforced, verified through the edge\",\n" +
			"inside this process: a simulated Cloudflare (API and edge) holding the zone " + demo.Zone + ",\n" +
			"an origin on 127.0.0.1 (aopwizard's builtin one, or a real nginx with --origin nginx), and\n" +
			"every file in a temporary directory, removed at the end unless --keep.\n\n" +
			"Nothing touches a real Cloudflare account: the API token is the simulator's own and no\n" +
			"CLOUDFLARE_* variable is read; nothing is sent anywhere but 127.0.0.1. For speed the demo's CA\n" +
			"is ECDSA P-256 with no passphrase (a real rollout defaults to RSA-4096, encrypted).\n\n" +
			"Exit status: 0 done, 1 failed, 2 bad input, 130 interrupted.",
		Example: "  aopwizard demo --non-interactive\n" +
			"  aopwizard demo --non-interactive --mode hostname --origin nginx --keep",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.nonInteractive, "non-interactive", false, "run headless with progress lines (for CI, scripts and captures)")
	fl.StringVar(&f.mode, "mode", string(steps.ModeZone), "global (Cloudflare's certificate), zone (yours, whole zone) or hostname (yours, per hostname)")
	fl.StringVar(&f.origin, "origin", string(demo.OriginBuiltin), "builtin (inside aopwizard) or nginx (a real nginx, when installed)")
	fl.BoolVar(&f.keep, "keep", false, "keep the demo's directory (certificates, configs, logs, state, report) and print where it is")
	fl.BoolVar(&f.jsonOut, "json", false, "print one JSON event per line on stdout, as run --json does")
	return cmd
}

func runDemo(cmd *cobra.Command, f demoFlags) error {
	var probs inputProblems
	mode, err := steps.ParseMode(f.mode)
	if err != nil {
		probs.add(false, "--mode", err.Error())
	}
	origin, err := demo.ParseOrigin(f.origin)
	if err != nil {
		probs.add(false, "--origin", err.Error())
	}
	if !f.nonInteractive {
		probs.add(true, "--non-interactive", "the interactive demo is not built yet")
	}
	if err := probs.err(); err != nil {
		return err
	}
	errw := cmd.ErrOrStderr()
	fmt.Fprintln(errw, demo.Banner)
	w, err := demo.Start(cmd.Context(), demo.Options{Mode: mode, Origin: origin, Keep: f.keep, Log: progressWriter{w: errw}})
	if err != nil {
		if errors.Is(err, demo.ErrNginxMissing) {
			return asUsage(fmt.Errorf("%w (--origin builtin)", err))
		}
		return err
	}
	r, runErr := headlessDemo(cmd, w, f)
	closeErr := w.Close()
	var in *steps.Interrupted
	switch {
	case errors.As(runErr, &in):
		// Nothing to resume: the demo's world ended with this process.
		return errors.Join(fmt.Errorf("demo interrupted during %s; the simulator and the origin are stopped%s: %w", in.Step, keptWhere(w), in.Err), closeErr)
	case runErr != nil:
		return errors.Join(rolloutErr(runErr), closeErr)
	}
	fmt.Fprintf(errw, "\nDemo %s (%s mode, %s origin): %s through the edge.\n", r.ID, mode, origin, r.Outcome)
	fmt.Fprintln(errw, demo.Banner)
	if f.keep {
		fmt.Fprintf(errw, "Kept the demo's files in %s (report: %s).\n", w.Dir, r.Report)
	} else {
		fmt.Fprintln(errw, "The demo's files are removed; --keep keeps them (certificates, configs, evidence log, state, report).")
	}
	if !f.jsonOut {
		fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", r.ID, r.Outcome)
	}
	return closeErr
}

// headlessDemo drives the demo's rollout with progress lines. The
// interactive wizard is another driver of the same world: it takes
// w.Inputs() as its defaults and drives w.NewRollout's rollout itself, and
// runDemo around it (banner, Close, summary, exit codes) stays as it is.
func headlessDemo(cmd *cobra.Command, w *demo.World, f demoFlags) (*steps.Rollout, error) {
	return w.Run(cmd.Context(), printer(cmd, f.jsonOut))
}

// keptWhere says where the demo's files are when --keep kept them.
func keptWhere(w *demo.World) string {
	if w.Keep {
		return "; its files are kept in " + w.Dir
	}
	return " and its files removed"
}
