package main

import (
	"context"
	"errors"
	"os"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/ui"
)

// runWizard starts the interactive wizard (`aopwizard` with no arguments)
// when stdin and stdout are terminals; otherwise it says how to run without
// one (exit 2), rather than failing on a Bubble Tea TTY error.
func runWizard(cmd *cobra.Command, _ []string) error {
	in, inOK := cmd.InOrStdin().(*os.File)
	out, outOK := cmd.OutOrStdout().(*os.File)
	if !inOK || !outOK || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return usagef("no terminal for the interactive wizard; use aopwizard run --non-interactive --zone=… for scripts and CI")
	}
	flow, err := wizardFlow(cmd.Context())
	if err != nil {
		return err
	}
	opts := ui.Options{Token: os.Getenv("CLOUDFLARE_API_TOKEN"), Doctor: uiDoctor{}}
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

// wizardFlow is the rollout the wizard drives. The steps package provides
// it (state file, lock, step modules); until it is wired in, the wizard
// says so instead of starting.
func wizardFlow(context.Context) (ui.Flow, error) {
	return nil, errors.New("the interactive wizard is not wired to the rollout steps in this build; use aopwizard run --non-interactive")
}
