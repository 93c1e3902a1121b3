package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
)

func newResumeCmd() *cobra.Command {
	var (
		f          rolloutFlags
		enforce    bool
		autoRevert bool
		setSSL     string
	)
	cmd := &cobra.Command{
		Use:   "resume [ID]",
		Short: "Continue a rollout where it stopped: after a crash, a Ctrl-C, a failure or the soft phase",
		Long: "resume opens the rollout (the only unfinished one without ID), checks in the world what the\n" +
			"previous run left (an upload found by fingerprint, a config in place, an association enabled),\n" +
			"re-checks the steps already done and re-runs one only if its effect is gone, then goes on.\n" +
			"--enforce gives the go-ahead to enforce a rollout verified in the soft phase.\n\n" +
			"Exit status: 0 done (or soft, verified, enforce pending), 1 failed, 2 bad input, 130 interrupted.",
		Example: "  aopwizard resume --non-interactive\n  aopwizard resume example-com-20261129-1a2b3c --non-interactive --enforce --auto-revert",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.nonInteractive {
				// The named rollout, or the only unfinished one, at once;
				// the start screen when there are several.
				w := wizardStart{stateDir: f.stateDir}
				if len(args) > 0 {
					w.resume = args[0]
				} else if dir, err := defaultStateDir(f.stateDir); err == nil {
					w.resume, _ = steps.Store{Dir: dir}.Latest()
				}
				return startWizard(cmd, w)
			}
			h, env, err := openForDriving(cmd, &f, args, (*steps.Rollout).Open, "unfinished")
			if err != nil {
				return err
			}
			defer h.Close()
			r := h.R
			if enforce {
				r.Inputs.Enforce = true
			}
			if autoRevert {
				r.Inputs.AutoRevert = true
			}
			switch setSSL {
			case "":
			case "strict":
				r.ConsentSSLStrict()
			default:
				return usagef("--set-ssl-mode: only \"strict\" can be set; nothing was changed")
			}
			if r.Step(steps.StepCertificate).Status != steps.StatusDone {
				if env.Secrets.CAPassphrase, err = rolloutPassphrase(cmd.Context(), f.passFile, &r.Inputs); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Resuming rollout %s at %s (state: %s)\n", r.ID, orNone(string(r.Current())), h.Path())
			return drive(cmd, env, h, &f)
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().Bool("accessible", false, accessibleHelp)
	cmd.Flags().BoolVar(&enforce, "enforce", false, "go on to the enforce phase (the go-ahead a soft-verified rollout waits for)")
	cmd.Flags().BoolVar(&autoRevert, "auto-revert", false, "return the origin to the soft phase when enforcing fails its checks")
	cmd.Flags().StringVar(&setSSL, "set-ssl-mode", "", "consent to switch the zone's SSL/TLS mode to Full (strict): required under Off or Flexible, recommended under Full; the only value is strict")
	cmd.Flags().StringVar(&f.passFile, "passphrase-file", "", "the CA passphrase, when the certificate step has yet to run")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "the end (re-checking every step)"
	}
	return s
}
