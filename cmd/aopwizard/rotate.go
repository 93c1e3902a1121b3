package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
)

func newRotateCmd() *cobra.Command {
	var f rolloutFlags
	var newCA bool
	cmd := &cobra.Command{
		Use:   "rotate [ID]",
		Short: "Replace a rollout's client certificate (same CA, or --new-ca) without a failed request",
		Long: "rotate issues a new client certificate from the rollout's CA (the origin already trusts it,\n" +
			"so nothing changes there), uploads it, waits until it is active, moves the hostname\n" +
			"associations to it (zone level: Cloudflare presents the newest active certificate), probes the\n" +
			"origin and the edge with it, and only then deletes the old one.\n\n" +
			"With --new-ca it generates a new CA and client certificate instead: the origin first trusts a\n" +
			"bundle of the old and the new CA (so both certificates pass), then the new certificate is\n" +
			"uploaded, switched to and verified, the old one deleted, and the origin drops the old CA.\n" +
			"With --origin-config manual the rollout prints each origin config and waits for it.\n\n" +
			"Each phase is saved: run it again to continue an interrupted rotation (as it was started).\n" +
			"The CA key's passphrase comes from --passphrase-file or " + envCAPassphrase + " (the new CA key\n" +
			"is encrypted with it, or left unencrypted when the rollout's was).\n\n" +
			"Exit status: 0 rotated, 1 failed (the old certificate stays in use), 2 bad input, 130 interrupted.",
		Example: "  aopwizard rotate example-com-20261129-1a2b3c --yes --passphrase-file ca.pass\n" +
			"  aopwizard rotate example-com-20261129-1a2b3c --new-ca --yes --passphrase-file ca.pass",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.yes {
				return usagef("pass --yes to rotate (it uploads a new certificate and deletes the old one); nothing was changed")
			}
			h, env, err := openForDriving(cmd, &f, args, func(r *steps.Rollout) bool { return !r.RolledBack && r.Inputs.Mode != steps.ModeGlobal }, "rotatable")
			if err != nil {
				return err
			}
			defer h.Close()
			// The CA key signs the new certificate, or encrypts the new CA's.
			if env.Secrets.CAPassphrase, err = generatePassphrase(cmd.Context(), generateFlags{passFile: f.passFile, noPass: h.R.Inputs.NoPassphrase}); err != nil {
				return err
			}
			m := &steps.Machine{Env: env, Saver: h}
			if err := m.RotateWith(cmd.Context(), steps.RotateOptions{NewCA: newCA}, rolloutSeams.rotateHook); err != nil {
				if errors.Is(err, steps.ErrNotRotatable) {
					return usageError{err: err}
				}
				return rolloutErr(err)
			}
			c := h.R.Certificates[0]
			fmt.Fprintf(cmd.OutOrStdout(), "%s rotated: certificate %s (issuer %s)\n", h.R.ID, c.ID, c.Issuer)
			return nil
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().BoolVar(&f.yes, "yes", false, "rotate without asking (required)")
	cmd.Flags().BoolVar(&newCA, "new-ca", false, "rotate to a new CA: the origin trusts both CAs during the switch, then the new one only")
	cmd.Flags().StringVar(&f.passFile, "passphrase-file", "", "file holding the CA key's passphrase")
	return cmd
}
