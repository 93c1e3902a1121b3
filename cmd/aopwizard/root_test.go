package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
		hint bool // "Run with --help" follows syntax errors only
	}{
		{[]string{"--help"}, exitOK, "", false},
		{[]string{"--version"}, exitOK, "", false},
		{[]string{"no-such-command"}, exitUsage, `unknown command "no-such-command"`, true},
		{[]string{"--no-such-flag"}, exitUsage, "unknown flag: --no-such-flag", true},
		{[]string{"pki", "generate", "--dir", t.TempDir(), "--domain", "https://example.com", "--no-passphrase"},
			exitUsage, "pass the bare domain, without https://", false},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			got := execute(context.Background(), c.args, &out, &errb)
			if got != c.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", got, c.code, errb.String())
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
}
