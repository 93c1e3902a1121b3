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
	}{
		{[]string{"--help"}, exitOK, ""},
		{[]string{"--version"}, exitOK, ""},
		{[]string{"no-such-command"}, exitUsage, `unknown command "no-such-command"`},
		{[]string{"--no-such-flag"}, exitUsage, "unknown flag: --no-such-flag"},
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
