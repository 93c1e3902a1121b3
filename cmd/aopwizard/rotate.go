package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
)

func newRotateCmd() *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "rotate [ID]",
		Short: "Replace a rollout's client certificate with a new one from the same CA, without a gap",
		Long: "rotate issues a new client certificate from the rollout's CA (the origin already trusts it,\n" +
			"so nothing changes there), uploads it, waits until it is active, moves the hostname\n" +
			"associations to it (zone level: Cloudflare presents the newest active certificate), probes the\n" +
			"origin with it, and only then deletes the old one. Each phase is saved: run it again to\n" +
			"continue an interrupted rotation. The CA key's passphrase comes from --passphrase-file or\n" +
			envCAPassphrase + ". Rotating to a new CA (dual-CA bundle at the origin) is not built yet.\n\n" +
			"Exit status: 0 rotated, 1 failed (the old certificate stays in use), 2 bad input, 130 interrupted.",
		Example: "  aopwizard rotate example-com-20261129-1a2b3c --yes --passphrase-file ca.pass",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.yes {
				return usagef("pass --yes to rotate (it uploads a new certificate and deletes the old one); nothing was changed")
			}
			h, env, err := openForDriving(cmd, &f, args, func(r *steps.Rollout) bool { return !r.RolledBack && r.Inputs.Mode != steps.ModeGlobal }, "rotatable")
			if err != nil {
				return err
			}
			defer h.Close()
			// The CA key signs the new certificate.
			if env.Secrets.CAPassphrase, err = generatePassphrase(cmd.Context(), generateFlags{passFile: f.passFile, noPass: h.R.Inputs.NoPassphrase}); err != nil {
				return err
			}
			m := &steps.Machine{Env: env, Saver: h}
			if err := m.Rotate(cmd.Context(), nil); err != nil {
				if errors.Is(err, steps.ErrNotRotatable) {
					return usageError{err: err}
				}
				return rolloutErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s rotated: certificate %s\n", h.R.ID, h.R.Certificates[0].ID)
			return nil
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().BoolVar(&f.yes, "yes", false, "rotate without asking (required)")
	cmd.Flags().StringVar(&f.passFile, "passphrase-file", "", "file holding the CA key's passphrase")
	return cmd
}
