package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/aopwizard/aopwizard/ui"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string
		err  string
		hint bool // "Run with --help" follows syntax errors only
	}{
		{[]string{"--help"}, exitOK, "aopwizard walks through", "", false},
		{[]string{"--version"}, exitOK, "aopwizard version " + buildVersion(), "", false},
		// No arguments starts the wizard, which needs a terminal.
		{[]string{}, exitUsage, "", "no terminal for the interactive wizard; use aopwizard run --non-interactive", false},
		// run and resume without --non-interactive start it too.
		{[]string{"run", "--zone", "example.com"}, exitUsage, "", "no terminal for the interactive wizard; use aopwizard run --non-interactive", false},
		{[]string{"resume"}, exitUsage, "", "no terminal for the interactive wizard; use aopwizard run --non-interactive", false},
		{[]string{"no-such-command"}, exitUsage, "", `unknown command "no-such-command"`, true},
		// Every command group, not only origin: help on stdout with exit 0
		// reads as success to a script that mistyped a subcommand.
		{[]string{"pki", "frobnicate"}, exitUsage, "", `unknown command "frobnicate" for "aopwizard pki"`, true},
		{[]string{"origin", "frobnicate"}, exitUsage, "", `unknown command "frobnicate" for "aopwizard origin"`, true},
		{[]string{"--no-such-flag"}, exitUsage, "", "unknown flag: --no-such-flag", true},
		{[]string{"pki", "generate", "--dir", t.TempDir(), "--domain", "https://example.com", "--no-passphrase"},
			exitUsage, "", "pass the bare domain, without https://", false},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			got := execute(context.Background(), c.args, &out, &errb)
			if got != c.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", got, c.code, errb.String())
			}
			if !strings.Contains(out.String(), c.out) {
				t.Fatalf("stdout %q does not say %q", out.String(), c.out)
			}
			if !strings.Contains(errb.String(), c.err) {
				t.Fatalf("stderr %q does not name %q", errb.String(), c.err)
			}
			if hint := strings.Contains(errb.String(), "--help for usage"); hint != c.hint {
				t.Fatalf("help hint shown = %v, want %v; stderr: %s", hint, c.hint, errb.String())
			}
		})
	}
}

func TestInterruptedExitCode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := exitCode(ctx, context.Canceled); got != exitInterrupted {
		t.Fatalf("exit code %d, want %d", got, exitInterrupted)
	}
	// Ctrl-C in the wizard: Bubble Tea catches it, not the signal context.
	if got := exitCode(context.Background(), fmt.Errorf("wizard: %w", ui.ErrInterrupted)); got != exitInterrupted {
		t.Fatalf("wizard interrupt: exit code %d, want %d", got, exitInterrupted)
	}
}

// TestVersionFromBuildInfo: --version without -ldflags still names the exact
// source, from whatever the Go toolchain stamped into the binary.
func TestVersionFromBuildInfo(t *testing.T) {
	const rev = "639e5713b9809c14097a0e57fba9d50a3caac8dd"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	cases := []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"go run, no VCS data", "", nil, "(devel)"},
		{"devel with revision", "(devel)", vcs("false"), "(devel) (639e5713b980)"},
		{"devel with changes", "(devel)", vcs("true"), "(devel) (639e5713b980+dirty)"},
		{"pseudo-version names the revision", "v0.0.0-20261122221437-639e5713b980", vcs("false"), "v0.0.0-20261122221437-639e5713b980"},
		{"pseudo-version with changes", "v0.0.0-20261122221437-639e5713b980+dirty", vcs("true"), "v0.0.0-20261122221437-639e5713b980+dirty"},
		{"tag", "v1.2.0", vcs("false"), "v1.2.0 (639e5713b980)"},
		{"go install module@version", "v1.2.0", nil, "v1.2.0"},
	}
	for _, c := range cases {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/aopwizard/aopwizard", Version: c.version}, Settings: c.settings}
		if got := versionFromBuildInfo(info); got != c.want {
			t.Errorf("%s: version %q, want %q", c.name, got, c.want)
		}
	}
}
