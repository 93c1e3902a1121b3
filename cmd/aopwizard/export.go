package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/cfapi"
	"github.com/aopwizard/aopwizard/steps"
	"github.com/aopwizard/aopwizard/steps/tfexport"
)

func newExportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write what exists as configuration for other tools (Terraform for a zone, Ansible for a rollout's origins)",
	}
	cmd.AddCommand(newExportTerraformCmd(), newExportAnsibleCmd())
	return cmd
}

type exportTerraformFlags struct {
	zone, out, stateDir string
	hostnames           []string
	force               bool
}

func newExportTerraformCmd() *cobra.Command {
	var f exportTerraformFlags
	cmd := &cobra.Command{
		Use:   "terraform [ID]",
		Short: "Write the zone's AOP objects as Terraform (Cloudflare provider v5) with import blocks",
		Long: "terraform reads the zone's Authenticated Origin Pulls objects and writes them as HCL for the\n" +
			"Cloudflare provider v5 (5.17.0 or later): the SSL/TLS mode and global AOP (cloudflare_zone_setting),\n" +
			"zone-level AOP (cloudflare_authenticated_origin_pulls_settings), every live zone-level and hostname\n" +
			"certificate, every hostname association (cloudflare_authenticated_origin_pulls, one per hostname)\n" +
			"and the expiry notification policies, each with an import block for its ID so the first\n" +
			"terraform plan adopts what exists instead of creating it again.\n\n" +
			"Private keys are never written: each certificate reads its key with file() from the directory\n" +
			"in the variable aop_key_dir, in a file named after the resource (listed on stderr).\n" +
			"With a rollout ID, only what that rollout made is exported: its certificates (reading each key\n" +
			"from the rollout's own key file), its hostnames' associations, and the settings and alert\n" +
			"policy it changed; the rollout comes from --state-dir.\n\n" +
			"The API token comes from " + cfapi.EnvAPIToken + ".\n\n" +
			"Exit status: 0 when written, 1 when Cloudflare could not be read, 2 for bad flags.",
		Example: "  aopwizard export terraform --zone example.com --out aop.tf\n" +
			"  aopwizard export terraform example-com-20260101-a1b2c3 --out aop.tf\n" +
			"  aopwizard export terraform --zone example.com > aop.tf",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runExportTerraform(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.zone, "zone", "", "the zone to export, e.g. example.com (required without a rollout ID)")
	fl.StringVar(&f.out, "out", "", "file to write (default: stdout)")
	fl.BoolVar(&f.force, "force", false, "replace --out if it exists")
	fl.StringSliceVar(&f.hostnames, "hostname", nil, "hostname whose association to export where Cloudflare does not list associations; repeat for several")
	fl.StringVar(&f.stateDir, "state-dir", "", "where rollouts live, for ID "+stateDirDefault)
	return cmd
}

func runExportTerraform(cmd *cobra.Command, f exportTerraformFlags, args []string) error {
	in := tfexport.Input{Zone: f.zone, Hostnames: f.hostnames}
	var scope *tfexport.Scope
	if len(args) == 1 {
		stateDir, err := defaultStateDir(f.stateDir)
		if err != nil {
			return err
		}
		r, err := steps.Store{Dir: stateDir}.Load(args[0])
		if err != nil {
			return storeErr(err)
		}
		rin, sc := tfexport.FromRollout(r)
		if f.zone != "" && !strings.EqualFold(strings.TrimSuffix(f.zone, "."), rin.Zone) {
			return usagef("--zone %s is not the zone of rollout %s (%s): leave --zone out", f.zone, r.ID, rin.Zone)
		}
		in.Zone, in.Hostnames, scope = rin.Zone, append(rin.Hostnames, f.hostnames...), &sc
	}
	if strings.TrimSpace(in.Zone) == "" {
		return usagef("--zone is required: the zone to export, e.g. --zone example.com (or give a rollout ID)")
	}
	if f.out != "" && !f.force {
		if _, err := os.Lstat(f.out); err == nil {
			return usagef("--out %s exists: choose another file, or add --force to replace it", f.out)
		}
	}
	client, err := cfapi.New(cfapi.ConfigFromEnv(os.Getenv))
	if err != nil {
		if errors.Is(err, cfapi.ErrNoCredentials) {
			return asUsage(err)
		}
		return err
	}
	snap, err := tfexport.Read(cmd.Context(), client, in)
	if err != nil {
		return err
	}
	if scope != nil {
		snap.Restrict(*scope)
	}
	out := tfexport.Render(snap)
	if f.out == "" {
		if _, err := cmd.OutOrStdout().Write(out.HCL); err != nil {
			return fmt.Errorf("write the configuration: %w", err)
		}
	} else if err := renameio.WriteFile(f.out, out.HCL, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", f.out, err)
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "exported %d resources of zone %s", len(out.Resources), snap.Zone.Name)
	if f.out != "" {
		fmt.Fprintf(w, " to %s", f.out)
	}
	fmt.Fprintln(w)
	if keys := out.KeyFiles(); len(keys) > 0 {
		fmt.Fprintf(w, "put these private keys in the directory you give as var.%s: %s\n", tfexport.KeyDirVariable, strings.Join(keys, ", "))
	}
	if snap.PoliciesUnread {
		fmt.Fprintln(w, "notification policies were left out: the API token cannot read them (add Notifications Read)")
	}
	return nil
}
