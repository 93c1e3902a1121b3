package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/steps"
	"github.com/aopwizard/aopwizard/steps/ansible"
)

type exportAnsibleFlags struct {
	stateDir, group, out string
	zones                []string
	force                bool
}

func newExportAnsibleCmd() *cobra.Command {
	var f exportAnsibleFlags
	cmd := &cobra.Command{
		Use:   "ansible [ID]",
		Short: "Write a playbook and role that apply a rollout's origin config to a fleet of origin servers",
		Long: "ansible writes an Ansible playbook (site.yml) and role (roles/" + ansible.Role + ") that roll the origin\n" +
			"side of a rollout out to every host of an inventory group, one host at a time (serial 1,\n" +
			"max_fail_percentage 0: the first host that fails stops the wave, and the hosts after it are\n" +
			"not touched). On each host it copies the CA bundles, writes the rollout's origin spec file and\n" +
			"runs `aopwizard origin apply --spec FILE --yes`, which tests the config, reloads and restores\n" +
			"the host on any failure; then it probes the host from the controller with the rollout's\n" +
			"client certificate (probe --expect).\n\n" +
			"Tags: soft (the default run) and enforce (only with --tags enforce). Hosts that differ from the\n" +
			"rollout (config path, listen address, certificate paths) set aopwizard_spec_host in the\n" +
			"inventory; aopwizard_bin names the binary on the hosts.\n\n" +
			"The rollout is ID, or the newest rollout of each --zone, or the only rollout in the state dir.\n\n" +
			"Exit status: 0 written, 1 a rollout or CA bundle could not be read, 2 bad flags.",
		Example: "  aopwizard export ansible --inventory-group origins --out aop-ansible\n" +
			"  ansible-playbook -i hosts.yml aop-ansible/site.yml                 # soft phase\n" +
			"  ansible-playbook -i hosts.yml aop-ansible/site.yml --tags enforce  # after the soft phase proved itself",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runExportAnsible(cmd, f, args) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.group, "inventory-group", "", "the inventory group of origin servers the plays run on (required)")
	fl.StringVar(&f.out, "out", "aopwizard-ansible", "directory to write the playbook and role into")
	fl.StringArrayVar(&f.zones, "zone", nil, "export the newest rollout of this zone (repeatable: one play per zone)")
	fl.BoolVar(&f.force, "force", false, "replace a playbook that --out already holds")
	fl.StringVar(&f.stateDir, "state-dir", "", "where rollouts live "+stateDirDefault)
	return cmd
}

func runExportAnsible(cmd *cobra.Command, f exportAnsibleFlags, args []string) error {
	if f.group == "" {
		return usagef("--inventory-group is required: the group of origin servers in your inventory, e.g. --inventory-group origins")
	}
	if err := ansible.CheckGroup(f.group); err != nil {
		return usagef("--inventory-group: %w", err)
	}
	if len(args) == 1 && len(f.zones) > 0 {
		return usagef("give a rollout ID or --zone, not both")
	}
	site := filepath.Join(f.out, "site.yml")
	if _, err := os.Lstat(site); err == nil && !f.force {
		return usagef("%s exists: choose another --out, or add --force to replace it", site)
	}
	stateDir, err := defaultStateDir(f.stateDir)
	if err != nil {
		return err
	}
	rollouts, err := pickRollouts(steps.Store{Dir: stateDir}, args, f.zones)
	if err != nil {
		return err
	}
	files, err := ansible.Export(rollouts, f.group)
	if err != nil {
		return err
	}
	if err := ansible.Write(f.out, files); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	for _, file := range files {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(f.out, file.Path))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "run: ansible-playbook -i INVENTORY %s (soft phase), then with --tags enforce\n", site)
	return nil
}

// pickRollouts is the rollout named, the newest of each zone, or the only
// one that is not rolled back.
func pickRollouts(s steps.Store, args, zones []string) ([]*steps.Rollout, error) {
	if len(args) == 1 {
		r, err := s.Load(args[0])
		return []*steps.Rollout{r}, storeErr(err)
	}
	if len(zones) == 0 {
		id, err := s.Only(func(r *steps.Rollout) bool { return !r.RolledBack }, "active")
		if err != nil {
			return nil, storeErr(err)
		}
		return pickRollouts(s, []string{id}, nil)
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []*steps.Rollout
	for _, z := range zones {
		i := slices.IndexFunc(all, func(e steps.Entry) bool {
			return e.Rollout != nil && !e.Rollout.RolledBack && e.Rollout.Inputs.Zone == z
		})
		if i < 0 {
			return nil, usagef("no rollout of zone %s in %s; list them with `aopwizard status`", z, s.Dir)
		}
		out = append(out, all[i].Rollout)
	}
	return out, nil
}
