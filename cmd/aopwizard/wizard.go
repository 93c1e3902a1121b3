package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/steps"
	"github.com/aopwizard/aopwizard/ui"
)

// accessibleHelp describes --accessible, for the commands that start the
// wizard.
const accessibleHelp = "line prompts and progress lines instead of the full-screen wizard (screen readers); also ACCESSIBLE=1 or TERM=dumb"

// noTerminal is the answer to an interactive start without a terminal.
const noTerminal = "no terminal for the interactive wizard; use aopwizard run --non-interactive --zone=… for scripts and CI"

// wizardStart says where the wizard starts: the state dir flag, the inputs
// the screens do not ask for (run's flags), and a rollout to resume at
// once.
type wizardStart struct {
	stateDir string
	defaults steps.Inputs
	resume   string
}

// runWizard starts the interactive wizard (`aopwizard` with no arguments).
func runWizard(cmd *cobra.Command, _ []string) error {
	dir, _ := cmd.Flags().GetString("state-dir")
	return startWizard(cmd, wizardStart{stateDir: dir})
}

// startWizard runs the wizard on the real rollout when stdin and stdout
// are terminals; otherwise it says how to run without one (exit 2), rather
// than failing on a Bubble Tea TTY error.
func startWizard(cmd *cobra.Command, w wizardStart) error {
	in, _, ok := terminal(cmd)
	if !ok {
		return usagef(noTerminal)
	}
	stateDir, err := defaultStateDir(w.stateDir)
	if err != nil {
		return err
	}
	if w.resume != "" {
		r, err := (steps.Store{Dir: stateDir}).Load(w.resume)
		if err != nil {
			return storeErr(err)
		}
		if !r.Open() {
			return usagef("rollout %s is finished or rolled back: nothing to resume (status shows it)", r.ID)
		}
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create the state directory: %w", err)
	}
	// The screen is the terminal's: origin/apply's progress goes to a log
	// file in the state dir instead.
	log, err := os.OpenFile(filepath.Join(stateDir, "wizard.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the wizard's log: %w", err)
	}
	defer log.Close()
	cfg := cfapi.ConfigFromEnv(os.Getenv)
	flow := ui.NewStepsFlow(ui.StepsFlowOptions{StateDir: stateDir, Defaults: w.defaults,
		Env: steps.EnvOptions{Config: cfg, StateDir: stateDir, Runner: rolloutSeams.runner, GlobalCAPEM: rolloutSeams.globalCA, Log: log}})
	defer flow.Close()
	opts := ui.Options{Token: cfg.Token, Resume: w.resume, Doctor: uiDoctor{}}
	if found := server.Detect(); len(found) == 1 {
		opts.Server = string(found[0])
	}
	if accessible(cmd) {
		return ui.RunPlain(cmd.Context(), flow, opts, in, cmd.ErrOrStderr())
	}
	return ui.Run(cmd.Context(), flow, opts)
}

// accessible: line prompts and progress lines instead of the full-screen
// wizard, for screen readers (--accessible, ACCESSIBLE) and terminals that
// cannot draw it (TERM=dumb).
func accessible(cmd *cobra.Command) bool {
	flag, _ := cmd.Flags().GetBool("accessible")
	return flag || os.Getenv("ACCESSIBLE") != "" || os.Getenv("TERM") == "dumb"
}
