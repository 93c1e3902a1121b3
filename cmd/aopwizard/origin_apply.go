package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/aopwizard/aopwizard/origin/apply"
	"github.com/aopwizard/aopwizard/origin/inplace"
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/sites"
)

// serverFlags override the Debian driver: for containers, other layouts
// and hosts without systemd.
type serverFlags struct {
	config, binary, testCmd, reloadCmd, pidFile, errorLog string
	checkpointDir                                         string
	systemd                                               bool
	fl                                                    *pflag.FlagSet
}

func (f *serverFlags) bind(fl *pflag.FlagSet) {
	f.fl = fl
	fl.BoolVar(&f.systemd, "systemd", server.SystemdRunning(), "reload with `systemctl reload UNIT` (default: when systemd runs this host)")
	fl.StringVar(&f.config, "config", "", "main config file (default: Debian's /etc/nginx/nginx.conf, /etc/apache2/apache2.conf, /etc/haproxy/haproxy.cfg)")
	fl.StringVar(&f.binary, "binary", "", "server binary (default /usr/sbin/nginx, /usr/sbin/apache2, /usr/sbin/haproxy)")
	fl.StringVar(&f.testCmd, "test-cmd", "", "the config-test command, run with sh -c (default: nginx -t -c CONFIG, apache2ctl configtest, haproxy -c -f CONFIG)")
	fl.StringVar(&f.reloadCmd, "reload-cmd", "", "reload command, run with sh -c (default: systemctl reload UNIT under systemd, else nginx -s reload, apache2ctl graceful, kill -USR2 $(cat PIDFILE))")
	fl.StringVar(&f.pidFile, "pid-file", "", "the HAProxy master pid file for the USR2 reload without systemd (default /run/haproxy.pid)")
	fl.StringVar(&f.errorLog, "error-log", "", "nginx -e error log (absolute), for layouts without /var/log/nginx")
	fl.StringVar(&f.checkpointDir, "checkpoint-dir", "", "where checkpoints and the lock file live (default: $AOPWIZARD_STATE_DIR/checkpoints, /var/lib/aopwizard/checkpoints for root, else $XDG_STATE_HOME/aopwizard/checkpoints)")
}

// overrides are the set flags, for origin/server.
func (f *serverFlags) overrides() server.Overrides {
	o := server.Overrides{Config: f.config, Binary: f.binary, TestCmd: f.testCmd, ReloadCmd: f.reloadCmd, PIDFile: f.pidFile, ErrorLog: f.errorLog}
	if f.fl != nil && f.fl.Changed("systemd") {
		o.Systemd = &f.systemd
	}
	return o
}

func (f *serverFlags) checkpoints() (string, error) {
	if f.checkpointDir != "" {
		return filepath.Abs(f.checkpointDir)
	}
	dir, err := apply.StateDir()
	if err != nil {
		return "", usagef("%v; pass --checkpoint-dir", err)
	}
	return apply.CheckpointsIn(dir), nil
}

// remedyFlags words each library remedy as what to do on this command line.
var remedyFlags = map[server.RemedyKind]string{
	server.RemedyForce:         "check it and pass --force to roll back anyway",
	server.RemedyReplan:        "run the command again to plan the change with that edit (--dry-run shows it)",
	server.RemedyServerKind:    "pass --server to say which one to configure (with --binary and --config for other layouts)",
	server.RemedyServerConfig:  "pass --config with the main config file the server runs with",
	server.RemedyServerBinary:  "pass --binary with the server's executable",
	server.RemedyReloadCommand: "pass --reload-cmd if haproxy keeps its pid elsewhere",
	server.RemedyListen:        "pass --listen like 127.0.0.1:8443 or :443",
	server.RemedyStateDir:      "check --checkpoint-dir (default from AOPWIZARD_STATE_DIR): it must be the one the change was applied with",
	server.RemedyWait:          "wait for it to finish",
	server.RemedyFixConfig:     "fix it first (run the command above to see why)",
}

// cliError words an origin library error for the command line: its remedy
// as flags, and bad input as exit status 2.
func cliError(err error) error {
	var se *server.Error
	if !errors.As(err, &se) {
		return err
	}
	if flags, ok := remedyFlags[se.Kind]; ok {
		se.Remedy = flags
	}
	if se.BadInput {
		return asUsage(err)
	}
	return err
}

type originApplyFlags struct {
	spec     originRenderFlags
	srv      serverFlags
	dryRun   bool
	yes      bool
	noListen bool
	// target is existing, managed or "" (existing when the server has a
	// TLS block for the hostnames, else managed).
	target            string
	allowLoose        bool
	overrideConflicts bool
}

// originApplyHooks let tests inject a failure or an interrupt right after
// the write (a real kill is tested with the process itself).
type originApplyHooks struct {
	afterWrite func(context.Context) error
}

func newOriginApplyCmd() *cobra.Command { return newOriginApplyCmdWith(originApplyHooks{}) }

func newOriginApplyCmdWith(hooks originApplyHooks) *cobra.Command {
	var f originApplyFlags
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Add client-certificate verification to the running server safely, with checkpoint and automatic restore",
		Long: "apply changes the running server the way certbot does: it tests the current config and\n" +
			"refuses if that already fails, takes a lock, saves every file it touches in a checkpoint,\n" +
			"writes atomically, tests again, reloads, and checks the listener with real TLS handshakes\n" +
			"until the new CA names are announced and a request without a certificate is refused\n" +
			"(enforce) or served (soft). On any failure or Ctrl-C it restores the checkpoint byte for\n" +
			"byte, reloads and says so. A checkpoint a killed run left behind is restored first.\n" +
			"Every command is shown as `$ …`.\n\n" +
			"Targets (--target; `aopwizard origin sites` shows what the server has):\n" +
			"  existing  add the directives inside the TLS blocks that serve the hostnames today,\n" +
			"            between # BEGIN/END aopwizard markers, every other byte kept; the site keeps\n" +
			"            its certificate, locations and listeners. A block matched only by a wildcard\n" +
			"            or regex name needs --allow-loose; client-verification directives the site\n" +
			"            already has need --override-conflicts (a terminal asks instead).\n" +
			"  managed   write aopwizard's own complete server block (the origin render flags, --cert\n" +
			"            and --key): for hostnames no TLS site serves yet, tests and demos.\n" +
			"Default: existing when the server has a TLS block for every hostname, else managed.\n\n" +
			"Exit status: 0 applied (or nothing to change), 1 failed (what was restored is printed)\n" +
			"or not confirmed, 2 bad flags or input (including a change that needs --allow-loose or\n" +
			"--override-conflicts, or --yes, without a terminal to ask on), 130 interrupted (after restoring).",
		Example: "  aopwizard origin apply --server nginx --phase soft --ca-file /etc/ssl/aop/zone-ca.pem \\\n" +
			"      --hostname example.com --hostname www.example.com --dry-run\n" +
			"  aopwizard origin apply --server nginx --target managed --phase soft --ca-file /etc/ssl/aop/zone-ca.pem \\\n" +
			"      --hostname new.example.com --cert /etc/ssl/origin.pem --key /etc/ssl/origin.key --yes\n" +
			"  aopwizard origin apply --server haproxy --phase enforce --ca-file ca.pem --hostname example.com \\\n" +
			"      --config /srv/haproxy/haproxy.cfg --reload-cmd 'kill -USR2 $(cat /srv/haproxy/pid)' --yes",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mergeSpecFile(cmd.Flags()); err != nil {
				return err
			}
			return cliError(runOriginApply(cmd, &f, hooks))
		},
	}
	bindOriginSpecFlags(cmd.Flags(), &f.spec, "nginx, apache or haproxy (default: the only one of them installed)")
	bindClientCertFlag(cmd.Flags(), &f.spec)
	f.srv.bind(cmd.Flags())
	cmd.Flags().StringVar(&f.target, "target", "", "existing (edit the TLS site that serves the hostnames, as certbot does) or managed (write aopwizard's own server block); default existing when the server has a TLS block for the hostnames, else managed")
	cmd.Flags().BoolVar(&f.allowLoose, "allow-loose", false, "existing target: also edit a block that matches a hostname only by a wildcard or regex name (it serves other hostnames, which get verification too)")
	cmd.Flags().BoolVar(&f.overrideConflicts, "override-conflicts", false, "existing target: replace client-verification directives the site already has (kept as comments, restored by rollback)")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the unified diff of what would change and write nothing")
	cmd.Flags().BoolVar(&f.yes, "yes", false, "apply without asking (required without a terminal)")
	cmd.Flags().BoolVar(&f.noListen, "no-listener-check", false, "skip the TLS listener check after the reload (when this host cannot connect to the listen address)")
	return cmd
}

func runOriginApply(cmd *cobra.Command, f *originApplyFlags, hooks originApplyHooks) error {
	stderr := cmd.ErrOrStderr()
	if f.spec.server == "" && f.spec.phase != "" {
		kind, err := pickServer(server.Detect())
		if err != nil {
			return err
		}
		f.spec.server = string(kind)
		fmt.Fprintf(stderr, "Detected %s (the only supported server installed here); pass --server to choose\n", kind)
	}
	target, err := inplace.ParseTarget(f.target)
	if err != nil {
		return usagef("--target: %v", err)
	}
	kind, err := server.ParseKind(f.spec.server)
	if f.spec.server != "" && err != nil {
		return usagef("%v; other servers: render with `aopwizard origin render --out` and reload yourself", err)
	}
	var d *server.Driver
	if err == nil {
		// Paths given on the command line are checked before anything
		// runs: a missing config is bad input, not a failing config test.
		ov := f.srv.overrides()
		if err := ov.Check(kind); err != nil {
			return err
		}
		if d, err = ov.Driver(kind); err != nil {
			return err
		}
		if f.spec.confDir == "" {
			f.spec.confDir = filepath.Dir(d.ConfigPath)
		}
	}
	// Until the target is known, the site's own certificate may stand in
	// for --cert and --key.
	f.spec.siteCert = target != inplace.Managed
	spec, err := f.spec.spec()
	if err != nil {
		return err
	}
	changes, targets, what, err := planApply(cmd, f, spec, d, target)
	if err != nil {
		return err
	}
	if f.dryRun {
		diff, err := apply.DryRun(changes)
		if err != nil {
			return err
		}
		if diff == "" {
			fmt.Fprintln(cmd.OutOrStdout(), "no changes: the files already hold this config")
			return nil
		}
		fmt.Fprint(cmd.OutOrStdout(), diff)
		fmt.Fprintln(stderr, "dry run: nothing was written; run again without --dry-run (and with --yes in scripts) to apply")
		return nil
	}
	var checks []apply.Target
	if !f.noListen {
		if checks, err = targets(); err != nil {
			return asUsage(err)
		}
	}
	cpDir, err := f.srv.checkpoints()
	if err != nil {
		return err
	}
	if !f.yes {
		if err := confirmApply(cmd, changes); err != nil {
			return err
		}
	}
	progress, closeLog, err := openOriginLog(cpDir, stderr, cmd)
	if err != nil {
		return err
	}
	defer closeLog()
	o := apply.Options{
		Driver: d, CheckpointDir: cpDir, Events: apply.TextEvents(progress), ID: spec.ID,
		Targets: checks, Overrides: f.srv.overrides(), AfterWrite: hooks.afterWrite,
	}
	res, err := apply.Apply(cmd.Context(), o, changes)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if res.Unchanged {
		fmt.Fprintln(w, "no changes: the files already hold this config")
		return nil
	}
	fmt.Fprintf(w, "applied %s %s phase%s (checkpoint %s in %s)\n", kind, spec.Phase, what, res.Checkpoint, cpDir)
	for _, p := range res.Changed {
		fmt.Fprintf(w, "  wrote %s\n", p)
	}
	return nil
}

// planApply chooses the target when --target was not given and plans the
// change there: the files to write, the listener checks (built only when
// used: a dry run needs none) and how the result line names the target.
func planApply(cmd *cobra.Command, f *originApplyFlags, spec render.Spec, d *server.Driver, target inplace.Target) (
	changes []apply.Change, targets func() ([]apply.Target, error), what string, err error,
) {
	if target == "" {
		choice, err := inplace.ChooseTarget(cmd.Context(), server.NewExecRunner(nil), d, spec.ID, specHostnames(spec), f.spec.cert != "")
		if err != nil {
			return nil, nil, "", noBlockError(err, choice.Hosts)
		}
		target = choice.Target
		fmt.Fprintf(cmd.ErrOrStderr(), "Target %s: %s (--target chooses)\n", target, choice.Why)
	}
	if target == inplace.Managed {
		if err := spec.Validate(); err != nil {
			return nil, nil, "", specError(err)
		}
		changes, err = managedChanges(cmd.ErrOrStderr(), spec, d)
		return changes, func() ([]apply.Target, error) { return apply.Targets(spec) }, "", err
	}
	changes, hosts, err := existingChanges(cmd, f, spec, d)
	targets = func() ([]apply.Target, error) {
		perHost, err := apply.Targets(spec)
		return inplace.ListenerTargets(hosts, perHost), err
	}
	return changes, targets, " to the existing site", err
}

// managedChanges renders aopwizard's own server block and plans its files.
func managedChanges(stderr io.Writer, spec render.Spec, d *server.Driver) ([]apply.Change, error) {
	out, err := render.Render(spec)
	if err != nil {
		return nil, asUsage(err)
	}
	for _, n := range out.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	return apply.Changes(out, spec.ID, d)
}

func specHostnames(spec render.Spec) []string {
	names := make([]string, len(spec.Hosts))
	for i, h := range spec.Hosts {
		names[i] = h.Name
	}
	return names
}

// withoutMissingCert drops the "missing --cert/--key" errors from a spec
// validation: an existing site serves its own certificate.
func withoutMissingCert(err error) error {
	fes := render.FieldErrors(err)
	if len(fes) == 0 {
		return err
	}
	var keep []error
	for _, fe := range fes {
		if fe.Value == "" && (fe.Field == render.FieldServerCert || fe.Field == render.FieldServerKey) {
			continue
		}
		keep = append(keep, fe)
	}
	return errors.Join(keep...)
}

// noBlockError words inplace.ErrNoBlock for the command line: bad input
// naming each hostname without a TLS block, with the flag that writes a
// new block instead.
func noBlockError(err error, hosts []sites.Host) error {
	if !errors.Is(err, inplace.ErrNoBlock) {
		return err
	}
	var missing, why []string
	for _, h := range hosts {
		if len(h.Blocks) > 0 {
			continue
		}
		missing = append(missing, h.Hostname)
		if h.Reason != sites.NotFound {
			why = append(why, h.Hostname+": "+h.Detail)
		}
	}
	if len(missing) == 0 {
		return asUsage(err)
	}
	msg := fmt.Sprintf("no TLS block serves %s: add TLS to the site first, or use --target managed (with --cert and --key)", strings.Join(missing, ", "))
	if len(missing) < len(hosts) {
		msg += " for those hostnames alone (the others have a TLS site: apply them with --target existing)"
	}
	if len(why) > 0 {
		msg += "\n  " + strings.Join(why, "\n  ")
	}
	return asUsage(mappedError{msg: msg, err: err})
}

// existingChanges plans the in-place edit of the operator's blocks. A
// block matched only by a wildcard or regex, or directives the site
// already has that the change replaces, are shown and need their flag or
// a yes on a terminal; a dry run shows the diff as if confirmed.
func existingChanges(cmd *cobra.Command, f *originApplyFlags, spec render.Spec, d *server.Driver) ([]apply.Change, []sites.Host, error) {
	stderr := cmd.ErrOrStderr()
	for _, name := range []string{"listen", "upstream", "cert", "key"} {
		if cmd.Flags().Changed(name) {
			fmt.Fprintf(stderr, "note: --%s is for --target managed: the existing site keeps its own\n", name)
		}
	}
	if len(spec.Hosts) == 0 {
		return nil, nil, usagef("--target existing needs --hostname: the hostnames whose site gets client-certificate verification")
	}
	in, extra, err := inplace.InputFor(spec)
	if err != nil {
		return nil, nil, err
	}
	in.AllowLoose, in.Override = f.allowLoose, f.overrideConflicts
	for {
		plan, hosts, err := inplace.PlanFor(cmd.Context(), server.NewExecRunner(nil), d, specHostnames(spec), in)
		switch {
		case errors.Is(err, inplace.ErrNoBlock):
			return nil, hosts, noBlockError(err, hosts)
		case errors.Is(err, inplace.ErrLoose) && !in.AllowLoose:
			for _, h := range hosts {
				for _, b := range h.Blocks {
					if b.Match != sites.Exact {
						fmt.Fprintf(stderr, "loose match: %s is served by %s through %q (%s)\n", h.Hostname, b.Where(), b.Pattern, h.Detail)
					}
				}
			}
			if err := confirmRisk(cmd, f, err, "--allow-loose", "Edit these blocks, which serve other hostnames too? [y/N] "); err != nil {
				return nil, hosts, err
			}
			in.AllowLoose = true
			continue
		case errors.Is(err, inplace.ErrConflict) && !in.Override && plan != nil:
			for _, c := range plan.Conflicts {
				fmt.Fprintf(stderr, "conflict: %s\n  resolution: %s\n", c, c.Resolution)
			}
			if err := confirmRisk(cmd, f, err, "--override-conflicts", "Replace these directives (the originals stay as comments)? [y/N] "); err != nil {
				return nil, hosts, err
			}
			in.Override = true
			continue
		case err != nil:
			return nil, hosts, err
		}
		for _, w := range plan.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		if in.Override == f.overrideConflicts { // else they were shown before the question
			for _, c := range plan.Conflicts {
				fmt.Fprintf(stderr, "conflict: %s\n  resolution: %s\n", c, c.Resolution)
			}
		}
		return append(extra, plan.Changes()...), hosts, nil
	}
}

// confirmRisk lets an in-place change go ahead that its flag (flag) did
// not allow: a dry run only notes it, a terminal asks, anything else is
// refused as bad input naming the flag.
func confirmRisk(cmd *cobra.Command, f *originApplyFlags, why error, flag, question string) error {
	if f.dryRun {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: the diff below assumes %s; applying needs it (or a yes on a terminal)\n", flag)
		return nil
	}
	in, out, ok := terminal(cmd)
	if f.yes || !ok {
		return usagef("%v; pass %s to go ahead (nothing was changed)", why, flag)
	}
	return askYes(in, out, question)
}

// terminal returns stdin and stdout when both are a terminal.
func terminal(cmd *cobra.Command) (*os.File, *os.File, bool) {
	in, inOK := cmd.InOrStdin().(*os.File)
	out, outOK := cmd.OutOrStdout().(*os.File)
	if !inOK || !outOK || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return nil, nil, false
	}
	return in, out, true
}

// askYes asks question and refuses unless the answer is yes.
func askYes(in io.Reader, out io.Writer, question string) error {
	fmt.Fprint(out, question)
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not applied: the answer was not yes")
	}
	return nil
}

// originLogName is the file in the checkpoint dir that keeps every apply
// and rollback run's progress and the commands it ran, after the terminal
// has scrolled away.
const originLogName = "origin.log"

// openOriginLog returns a writer that shows progress on stderr and appends
// it to <checkpoint-dir>/origin.log under a header naming the run. The log
// is a stream, so it is appended to, not replaced atomically; it holds
// commands and paths, never key material.
func openOriginLog(cpDir string, stderr io.Writer, cmd *cobra.Command) (io.Writer, func(), error) {
	if err := os.MkdirAll(cpDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create checkpoint dir %s: %w (pass --checkpoint-dir to use another)", cpDir, err)
	}
	f, err := os.OpenFile(filepath.Join(cpDir, originLogName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open the origin change log: %w", err)
	}
	line := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(fl *pflag.Flag) { line = append(line, "--"+fl.Name+"="+fl.Value.String()) })
	fmt.Fprintf(f, "=== %s pid %d: %s\n", time.Now().UTC().Format(time.RFC3339), os.Getpid(), strings.Join(line, " "))
	return io.MultiWriter(stderr, f), func() { _ = f.Close() }, nil
}

// pickServer is server.Pick worded for the command line.
func pickServer(found []render.Server) (render.Server, error) {
	k, err := server.Pick(found)
	return k, cliError(err)
}

// confirmApply shows the diff and asks, on a terminal only: a script must
// say --yes.
func confirmApply(cmd *cobra.Command, changes []apply.Change) error {
	in, out, ok := terminal(cmd)
	if !ok {
		return usagef("no terminal to confirm on; pass --yes to apply (or --dry-run to see the diff)")
	}
	diff, err := apply.DryRun(changes)
	if err != nil {
		return err
	}
	fmt.Fprint(out, diff)
	return askYes(in, out, "Apply these changes and reload the server? [y/N] ")
}

func newOriginRollbackCmd() *cobra.Command {
	var (
		f     serverFlags
		kind  string
		force bool
	)
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Restore the files of the last applied origin change and reload the server",
		Long: "rollback restores the newest finalised checkpoint (of --server, if given) byte for byte, with\n" +
			"mode and owner, removes the files that change created, tests the config, reloads and checks\n" +
			"that the listener answers as it did before the change. Each run undoes one more apply.\n" +
			"It refuses when a file was edited after aopwizard wrote it, unless --force.\n\n" +
			"Exit status: 0 rolled back, 1 failed or nothing to roll back, 2 bad flags or a checkpoint dir\n" +
			"that does not exist (it is not created), 130 interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cliError(runOriginRollback(cmd, &f, kind, force))
		},
	}
	cmd.Flags().StringVar(&kind, "server", "", "only roll back changes to this server (default: the newest change of any)")
	cmd.Flags().BoolVar(&force, "force", false, "roll back even files edited since aopwizard wrote them")
	f.bind(cmd.Flags())
	return cmd
}

func runOriginRollback(cmd *cobra.Command, f *serverFlags, kind string, force bool) error {
	o := apply.Options{Overrides: f.overrides(), Force: force}
	var k render.Server
	if kind != "" {
		var err error
		if k, err = server.ParseKind(kind); err != nil {
			return asUsage(err)
		}
		o.Driver, _ = server.Debian(k)
	}
	if err := o.Overrides.Check(k); err != nil {
		return err
	}
	var err error
	if o.CheckpointDir, err = f.checkpoints(); err != nil {
		return err
	}
	progress := cmd.ErrOrStderr()
	// Only an existing checkpoint dir gets the log: rollback must
	// not create a mistyped one (apply.Rollback says it is missing).
	if fi, err := os.Stat(o.CheckpointDir); err == nil && fi.IsDir() {
		var closeLog func()
		if progress, closeLog, err = openOriginLog(o.CheckpointDir, progress, cmd); err != nil {
			return err
		}
		defer closeLog()
	}
	o.Events = apply.TextEvents(progress)
	res, err := apply.Rollback(cmd.Context(), o)
	if errors.Is(err, apply.ErrNoCheckpoint) && res != nil && len(res.Recovered) > 0 {
		// The run that was cut short is the change the user wants
		// undone, and recovery just undid it.
		for _, name := range res.Recovered {
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back unfinished change %s (a previous run stopped before finishing)\n", name)
		}
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "rolled back checkpoint %s\n", res.Checkpoint)
	for _, r := range res.Restored {
		fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", r)
	}
	return nil
}
