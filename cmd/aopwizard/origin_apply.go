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
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/origin/server"
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
		Short: "Write the rendered config into the running server safely, with checkpoint and automatic restore",
		Long: "apply renders the config (the same flags as `origin render`) and changes the running server\n" +
			"the way certbot does: it tests the current config and refuses if that already fails, takes\n" +
			"a lock, saves every file it touches in a checkpoint, writes atomically, tests again, reloads,\n" +
			"and checks the listener with real TLS handshakes until the new CA names are announced\n" +
			"and a request without a certificate is refused (enforce) or served (soft).\n" +
			"On any failure or Ctrl-C it restores the checkpoint byte for byte, reloads and says so.\n" +
			"A checkpoint a killed run left behind is restored first. Every command is shown as `$ …`.\n\n" +
			"Exit status: 0 applied (or nothing to change), 1 failed (what was restored is printed),\n" +
			"2 bad flags or input, 130 interrupted (after restoring).",
		Example: "  aopwizard origin apply --server nginx --phase soft --ca-file /etc/ssl/aop/zone-ca.pem \\\n" +
			"      --hostname example.com --hostname www.example.com --cert /etc/ssl/origin.pem --key /etc/ssl/origin.key --dry-run\n" +
			"  aopwizard origin apply --server haproxy --phase enforce --ca-file ca.pem --hostname example.com \\\n" +
			"      --cert /etc/haproxy/origin.pem --config /srv/haproxy/haproxy.cfg --reload-cmd 'kill -USR2 $(cat /srv/haproxy/pid)' --yes",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cliError(runOriginApply(cmd, &f, hooks)) },
	}
	bindOriginSpecFlags(cmd.Flags(), &f.spec, "nginx, apache or haproxy (default: the only one of them installed)")
	bindClientCertFlag(cmd.Flags(), &f.spec)
	f.srv.bind(cmd.Flags())
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
	spec, err := f.spec.spec()
	if err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return asUsage(err)
	}
	out, err := render.Render(spec)
	if err != nil {
		return asUsage(err)
	}
	for _, n := range out.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	changes, err := apply.Changes(out, spec.ID, d)
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
	var targets []apply.Target
	if !f.noListen {
		if targets, err = apply.Targets(spec); err != nil {
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
		Targets: targets, Overrides: f.srv.overrides(), AfterWrite: hooks.afterWrite,
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
	fmt.Fprintf(w, "applied %s %s phase (checkpoint %s in %s)\n", kind, spec.Phase, res.Checkpoint, cpDir)
	for _, p := range res.Changed {
		fmt.Fprintf(w, "  wrote %s\n", p)
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
	in, inOK := cmd.InOrStdin().(*os.File)
	out, outOK := cmd.OutOrStdout().(*os.File)
	if !inOK || !outOK || !term.IsTerminal(in.Fd()) || !term.IsTerminal(out.Fd()) {
		return usagef("no terminal to confirm on; pass --yes to apply (or --dry-run to see the diff)")
	}
	diff, err := apply.DryRun(changes)
	if err != nil {
		return err
	}
	fmt.Fprint(out, diff)
	fmt.Fprint(out, "Apply these changes and reload the server? [y/N] ")
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errors.New("not applied: the answer was not yes")
	}
	return nil
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
