package apply

import (
	"errors"
	"os"
	"path/filepath"
)

// StateDirEnv names the environment variable that moves aopwizard's state
// (checkpoints, the lock, the change log) elsewhere.
const StateDirEnv = "AOPWIZARD_STATE_DIR"

// DefaultStateDir is where aopwizard keeps its state, the one rule every
// command shares: $AOPWIZARD_STATE_DIR, else /var/lib/aopwizard for root
// (euid 0), else $XDG_STATE_HOME/aopwizard, else
// home/.local/state/aopwizard. It returns "" when none applies (no home).
func DefaultStateDir(getenv func(string) string, euid int, home string) string {
	if d := getenv(StateDirEnv); d != "" {
		return d
	}
	if euid == 0 {
		return "/var/lib/aopwizard"
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "aopwizard")
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".local", "state", "aopwizard")
}

// ErrNoStateDir is returned by StateDir when there is no home directory to
// put the state in.
var ErrNoStateDir = errors.New("no directory for aopwizard's state: no " + StateDirEnv + " and no home directory")

// StateDir is DefaultStateDir for this process.
func StateDir() (string, error) {
	home, _ := os.UserHomeDir()
	if d := DefaultStateDir(os.Getenv, os.Geteuid(), home); d != "" {
		return d, nil
	}
	return "", ErrNoStateDir
}

// CheckpointsIn is the checkpoint directory inside a state directory.
func CheckpointsIn(stateDir string) string { return filepath.Join(stateDir, "checkpoints") }
