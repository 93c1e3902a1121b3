package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
	"github.com/aopwizard/aopwizard/steps/demo"
	"github.com/aopwizard/aopwizard/ui"
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
			"every file in a temporary directory, removed at the end unless --keep. On a terminal it is the\n" +
			"interactive wizard, under a banner saying the Cloudflare side is simulated, with the demo's\n" +
			"answers filled in. --non-interactive runs it headless with progress lines.\n\n" +
			"Nothing touches a real Cloudflare account: the API token is the simulator's own and no\n" +
			"CLOUDFLARE_* variable is read; nothing is sent anywhere but 127.0.0.1. For speed the demo's CA\n" +
			"is ECDSA P-256 with no passphrase (a real rollout defaults to RSA-4096, encrypted).\n\n" +
			"Exit status: 0 done, 1 failed, 2 bad input, 130 interrupted.",
		Example: "  aopwizard demo\n  aopwizard demo --non-interactive\n" +
			"  aopwizard demo --non-interactive --mode hostname --origin nginx --keep",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, f) },
	}
	fl := cmd.Flags()
	fl.Bool("accessible", false, accessibleHelp)
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
	if err := probs.err(); err != nil {
		return err
	}
	tty, _, onTerminal := terminal(cmd)
	if !f.nonInteractive && !onTerminal {
		return usagef("no terminal for the interactive demo; use aopwizard demo --non-interactive for scripts and CI")
	}
	// Go kills a program that writes to a closed pipe on stdout or stderr
	// unless it takes SIGPIPE: the demo would leave its directory behind.
	// Taken, the write fails and the demo stops and cleans up.
	sigpipe := make(chan os.Signal, 1)
	signal.Notify(sigpipe, syscall.SIGPIPE)
	defer signal.Stop(sigpipe)
	errw := cmd.ErrOrStderr()
	fmt.Fprintln(errw, demo.Banner)
	// The wizard owns the screen: origin/apply's lines are dropped there
	// (the origin screen shows what the step reports).
	var log io.Writer = progressWriter{w: errw}
	if !f.nonInteractive {
		log = io.Discard
	}
	w, err := demo.Start(cmd.Context(), demo.Options{Mode: mode, Origin: origin, Keep: f.keep, Log: log})
	if err != nil {
		if errors.Is(err, demo.ErrNginxMissing) {
			return asUsage(fmt.Errorf("%w (--origin builtin)", err))
		}
		return err
	}
	var r *steps.Rollout
	var runErr error
	if f.nonInteractive {
		r, runErr = headlessDemo(cmd, w, f)
	} else {
		r, runErr = interactiveDemo(cmd, w, tty)
	}
	closeErr := w.Close()
	var in *steps.Interrupted
	var closed *outputClosed
	switch {
	case errors.As(runErr, &closed):
		return errors.Join(fmt.Errorf("%w%s", closed, demoFiles(w)), closeErr)
	case errors.As(runErr, &in):
		return errors.Join(&demoInterrupted{step: in.Step, w: w, err: in.Err}, closeErr)
	case runErr != nil:
		return errors.Join(rolloutErr(runErr), closeErr)
	}
	fmt.Fprintf(errw, "\nDemo %s (%s mode, %s origin): %s.\n", r.ID, mode, origin, r.Outcome)
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
//
// Output that can no longer be written (demo --json | head -1) stops the
// rollout as Ctrl-C would, and runDemo cleans up.
func headlessDemo(cmd *cobra.Command, w *demo.World, f demoFlags) (*steps.Rollout, error) {
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	r, err := w.Run(ctx, printerBroken(cmd, f.jsonOut, func(err error) { cancel(&outputClosed{what: "the demo", err: err}) }))
	var closed *outputClosed
	if errors.As(context.Cause(ctx), &closed) {
		return r, closed
	}
	return r, err
}

// outputClosed is a write of a run's events that failed; what is the
// run ("the demo", "the rollout").
type outputClosed struct {
	what string
	err  error
}

func (e *outputClosed) Error() string {
	return e.what + " stopped: writing its output failed: " + e.err.Error()
}

func (e *outputClosed) Unwrap() error { return e.err }

// interactiveDemo drives the demo's world with the wizard: the world's
// inputs are its answers' defaults, its Env the steps' world, and the
// banner says the Cloudflare side is simulated. The world ends with the
// process, so a Ctrl-C leaves nothing to resume (keep the files with
// --keep).
func interactiveDemo(cmd *cobra.Command, w *demo.World, tty *os.File) (*steps.Rollout, error) {
	flow := ui.NewStepsFlow(ui.StepsFlowOptions{StateDir: w.StateDir, Defaults: w.Inputs(),
		NewEnv: func(_ context.Context, r *steps.Rollout, emit func(steps.Event)) (*steps.Env, error) {
			return w.Env(r, emit)
		}})
	defer flow.Close()
	// The token is the simulator's own and never asked for.
	opts := ui.Options{Demo: true, Token: "simulated", Server: string(w.Origin)}
	var err error
	if accessible(cmd) {
		err = ui.RunPlain(cmd.Context(), flow, opts, tty, cmd.ErrOrStderr())
	} else {
		err = ui.Run(cmd.Context(), flow, opts)
	}
	r := flow.Current()
	switch {
	case r == nil && err == nil:
		return nil, errors.New("the wizard ended before the demo's rollout began")
	case r == nil && errors.Is(err, ui.ErrInterrupted):
		return nil, &steps.Interrupted{Err: err}
	case r == nil:
		return nil, err
	case errors.Is(err, ui.ErrInterrupted):
		return r, &steps.Interrupted{Step: r.Current(), Err: err}
	case err == nil && !r.Finished():
		return r, fmt.Errorf("the demo rollout stopped at %s (%s)", r.Current(), orNone(r.Outcome))
	}
	return r, err
}

// demoInterrupted is a demo stopped by Ctrl-C. Unlike a real rollout it
// cannot be resumed: its Cloudflare was simulated in the process that
// ended, so the message says to start again rather than to resume (the
// interruption's own words, ui.ErrInterrupted's, say to resume). It
// unwraps to the interruption: exit 130.
type demoInterrupted struct {
	step steps.StepName
	w    *demo.World
	err  error
}

func (e *demoInterrupted) Error() string {
	msg := "demo interrupted"
	if e.step != "" {
		msg += " during " + string(e.step)
	}
	return msg + ": the demo's simulated Cloudflare lived only in this process, so there is nothing to resume; aopwizard demo starts a new demo" + demoFiles(e.w)
}

func (e *demoInterrupted) Unwrap() error { return e.err }

// demoFiles says what became of a stopped demo's world and files.
func demoFiles(w *demo.World) string {
	if w.Keep {
		return " (this one's files are kept in " + w.Dir + ": certificates, configs, logs, state)"
	}
	return " (the simulator and the origin are stopped, the demo's files removed)"
}
