package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"

	"github.com/aopwizard/aopwizard/ui"
)

// Version is set at build time with -ldflags "-X main.Version=…"; empty means
// buildVersion falls back to the module's build info.
var Version = ""

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "aopwizard",
		Short: "Set up Cloudflare Authenticated Origin Pulls, from nothing to enforced",
		Long: "aopwizard walks through Cloudflare Authenticated Origin Pulls (mTLS from Cloudflare's\n" +
			"edge to your origin): certificates, upload, origin configuration in a soft phase,\n" +
			"verification with real TLS probes, and enforcement.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE:          runWizard,
	}
	root.Flags().String("state-dir", "", "where rollouts, checkpoints and reports live "+stateDirDefault)
	root.Flags().Bool("accessible", false, accessibleHelp)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err: err, syntax: true} })
	root.AddCommand(newPKICmd(), newOriginCmd(), newProbeCmd(), newSimCmd(), newRunCmd(), newStatusCmd(), newResumeCmd(),
		newRollbackCmd(), newRotateCmd(), newDoctorCmd(), newExportCmd(), newDemoCmd())
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes every command group answer an unknown
// subcommand with a syntax error (exit 2) instead of printing its help and
// exiting 0, which a script would take for success.
func rejectUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() && c.Args != nil {
		return
	}
	c.Args = cobra.NoArgs
	if c.RunE == nil && c.Run == nil {
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}

// run executes the CLI with args and returns the process exit code.
func run(ctx context.Context, args []string) int {
	return execute(ctx, args, os.Stdout, os.Stderr)
}

func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	var runErr error
	catchRunErrors(root, &runErr)
	err := fang.Execute(ctx, root, fang.WithErrorHandler(errorHandler), fang.WithVersion(buildVersion()))
	if err == nil && runErr != nil {
		errorHandler(stderr, fang.Styles{}, runErr)
		err = runErr
	}
	return exitCode(ctx, err)
}

// catchRunErrors keeps the commands' own errors from fang: to style the
// error it prints, fang asks the terminal for its background colour, and
// right after the full-screen wizard that query could block for good
// (in tmux under load the wizard hung after Ctrl-C on a blank screen, in
// lipgloss's read of the reply). execute prints them instead, as plainly
// as errorHandler does for fang. Syntax errors, found before any command
// runs, still go through fang.
func catchRunErrors(c *cobra.Command, caught *error) {
	for _, sub := range c.Commands() {
		catchRunErrors(sub, caught)
	}
	if run := c.RunE; run != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*caught = run(cmd, args)
			return nil
		}
	}
}

// errorHandler prints errors plainly: they already say what is wrong and
// what to do, and scripts read stderr.
func errorHandler(w io.Writer, _ fang.Styles, err error) {
	fmt.Fprintf(w, "aopwizard: %v\n", err)
	if isSyntax(err) {
		fmt.Fprintln(w, "Run with --help for usage.")
	}
}

// Exit codes, as docs/cli-conventions.md, "Exit codes".
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks bad usage or bad input: exit code 2. syntax is set for
// command-line syntax errors, where pointing at --help helps; bad input
// (an invalid domain, existing files) already says what to do.
type usageError struct {
	err    error
	syntax bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a bad-usage / bad-input error (exit code 2).
func usagef(format string, args ...any) error { return usageError{err: fmt.Errorf(format, args...)} }

// asUsage marks err as bad input (exit code 2), keeping its chain.
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err: err}
}

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue) || isSyntax(err)
}

// isSyntax reports command-line syntax errors: flag errors, and the unknown
// commands and argument counts cobra reports as plain errors.
func isSyntax(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return ue.syntax
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// buildVersion is the -ldflags version, else what the build info says.
func buildVersion() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return versionFromBuildInfo(info)
}

// versionFromBuildInfo is the module version (Go derives a pseudo-version
// holding the revision from VCS data since 1.24, or the tag for go install
// module@version), else "(devel)", plus the VCS revision when the version
// does not already name it, and "+dirty" for uncommitted changes, so a bug
// report identifies the exact source.
func versionFromBuildInfo(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty && !strings.HasSuffix(v, "+dirty") {
		rev += "+dirty"
	}
	if rev != "" && !strings.Contains(v, rev) {
		v += " (" + rev + ")"
	}
	return v
}

func exitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled) || errors.Is(err, ui.ErrInterrupted) || ctx.Err() != nil:
		return exitInterrupted
	case isUsage(err):
		return exitUsage
	}
	return exitFailure
}
