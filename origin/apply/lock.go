package apply

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gofrs/flock"

	"github.com/aopwizard/aopwizard/origin/server"
)

// LockName is the lock file in the checkpoint dir. It is never removed:
// flock locks an inode, and unlinking would let a second run lock a new
// file while the first still holds the old one. The kernel drops the lock
// when the process dies, so a crash never leaves it stuck.
const LockName = "origin.lock"

// ErrLocked is wrapped when another run holds the lock.
var ErrLocked = errors.New("another aopwizard origin apply or rollback is running")

type lock struct{ fl *flock.Flock }

// acquire takes the lock without waiting and writes our pid into the file
// (in place: replacing the file would break the lock) so a contender can
// name the holder.
func acquire(root string) (*lock, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create checkpoint dir: %w", err)
	}
	path := filepath.Join(root, LockName)
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		holder := "another process"
		if b, err := server.ReadFile(path, server.MaxPIDFile, "lock file"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf("pid %d", pid)
			}
		}
		return nil, &server.Error{Err: fmt.Errorf("%w (%s holds %s), so nothing was changed", ErrLocked, holder, path),
			Kind: server.RemedyWait, Remedy: "wait for it to finish"}
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		_ = f.Truncate(0)
		_, _ = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
		f.Close()
	}
	return &lock{fl}, nil
}

func (l *lock) release() { _ = l.fl.Unlock() }
