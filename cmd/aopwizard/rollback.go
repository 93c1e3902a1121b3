package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
)

func newRollbackCmd() *cobra.Command {
	var f rolloutFlags
	cmd := &cobra.Command{
		Use:   "rollback [ID]",
		Short: "Undo a rollout, newest change first, and only what it changed",
		Long: "rollback undoes the rollout's steps in reverse order: the origin back to its checkpoint\n" +
			"(enforce, then soft), AOP turned off where this rollout turned it on, its hostname associations\n" +
			"voided, its uploaded certificates deleted, its alert policy removed and the SSL/TLS mode\n" +
			"restored if it switched it. What the rollout found already in place is left alone, and so are\n" +
			"the generated certificate files (the CA key may be your only copy).\n\n" +
			"Exit status: 0 rolled back, 1 failed (resume the rollback by running it again), 2 bad input,\n" +
			"130 interrupted.",
		Example: "  aopwizard rollback example-com-20261129-1a2b3c --yes",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.yes {
				return usagef("pass --yes to roll back (see what it undoes with `aopwizard status ID`); nothing was changed")
			}
			h, env, err := openForDriving(cmd, &f, args, func(r *steps.Rollout) bool { return !r.RolledBack }, "not rolled back")
			if err != nil {
				return err
			}
			defer h.Close()
			m := &steps.Machine{Env: env, Saver: h}
			if err := m.Rollback(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s rolled back\n", h.R.ID)
			return nil
		},
	}
	f.bind(cmd.Flags())
	cmd.Flags().BoolVar(&f.yes, "yes", false, "roll back without asking (required)")
	return cmd
}
