package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/aopwizard/aopwizard/origin/server"
	"github.com/aopwizard/aopwizard/origin/servertest"
	"github.com/aopwizard/aopwizard/pki/pkitest"
)

// A real aopwizard process SIGKILLed after writing the new config and
// before its reload finished leaves the server files changed; the next run
// must put them back byte for byte and reload, before doing anything else.
// The reload command dies with it: left running, it would go on to load
// the half-applied config.
func TestOriginApplyKilledMidReloadIsRecoveredByTheNextRun(t *testing.T) {
	t.Parallel()
	l := newCLILab(t)
	original := l.files(t)
	started := filepath.Join(t.TempDir(), "reload-started")
	// The reload writes its pid and then blocks, so the kill lands between
	// the write and the end of the reload.
	args := append(append([]string(nil), l.args...), "--phase", "soft", "--yes",
		"--reload-cmd", fmt.Sprintf("echo $$ > %s; exec sleep 600", started))
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "AOPWIZARD_TEST_RUN_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // for the clean-up below only
	var stderr pkitest.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }()
	var reloadPID int
	servertest.Eventually(t, "apply to reach the reload", func() error {
		var err error
		if reloadPID, err = server.ReadPID(started); err != nil {
			return fmt.Errorf("%w; stderr so far:\n%s", err, stderr.String())
		}
		return nil
	})
	if err := cmd.Process.Kill(); err != nil { // aopwizard alone, no clean-up possible
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if runtime.GOOS == "linux" {
		servertest.Eventually(t, "the reload command to die with aopwizard", func() error {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", reloadPID))
			if err != nil || strings.Contains(string(b), ") Z ") {
				return nil
			}
			return fmt.Errorf("reload command %d still runs: %s", reloadPID, b)
		})
	}
	conf, err := os.ReadFile(filepath.Join(l.dir, "conf.d", "aopwizard-example.test.conf"))
	if err != nil || !strings.Contains(string(conf), l.lab.Path(pkitest.CABFile)) {
		t.Fatalf("the killed run should have left the new config written (CA B): %v\n%s", err, conf)
	}

	reload := fmt.Sprintf("%s -c %s -e %s -s reload", l.run.Driver.Binary, l.run.Driver.ConfigPath, l.run.ErrorLog)
	code, out, errs := runOriginCLI(t, "origin", "rollback", "--server", "nginx", "--checkpoint-dir", l.cpDir,
		"--config", l.run.Driver.ConfigPath, "--error-log", l.run.ErrorLog, "--systemd=false", "--reload-cmd", reload)
	if !strings.Contains(errs, "Recovered checkpoint") {
		t.Fatalf("next run did not recover: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	sameFiles(t, l.files(t), original, "after recovery")
	if !strings.Contains(errs, "$ /bin/sh -c '"+reload+"'") {
		t.Errorf("recovery did not reload the server:\n%s", errs)
	}
	if code != exitOK || !strings.Contains(out, "rolled back unfinished change") {
		t.Errorf("rollback after a recovery: exit %d, want 0 (the unfinished change was undone)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}
