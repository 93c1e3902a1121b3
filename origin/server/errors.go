package server

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// RemedyKind names what the operator can do about an Error as a value, so
// each front end can word it its own way: the CLI maps it to a flag, the
// wizard to a screen.
type RemedyKind string

// The remedies origin/server and origin/apply suggest.
const (
	RemedyNone          RemedyKind = ""
	RemedyForce         RemedyKind = "force"          // go ahead anyway, discarding the edits found
	RemedyReplan        RemedyKind = "replan"         // render and confirm the change again
	RemedyServerKind    RemedyKind = "server-kind"    // say which server to configure
	RemedyServerConfig  RemedyKind = "server-config"  // name the server's main config file
	RemedyServerBinary  RemedyKind = "server-binary"  // name the server's binary
	RemedyReloadCommand RemedyKind = "reload-command" // say how this server is reloaded
	RemedyListen        RemedyKind = "listen"         // give a host:port listen address
	RemedyStateDir      RemedyKind = "state-dir"      // use another checkpoint directory
	RemedyFixConfig     RemedyKind = "fix-config"     // fix the server's current config first
	RemedyWait          RemedyKind = "wait"           // let the other run finish
)

// Error is a failure with a remedy in product terms, free of any front
// end's wording.
type Error struct {
	What   string     // what failed, e.g. "nginx main config /etc/nginx/nginx.conf"
	Err    error      // why; wrapped, so errors.Is sees sentinels and causes
	Remedy string     // what to do, in product terms
	Kind   RemedyKind // Remedy as a value
	// BadInput marks a problem with what the operator gave (a path, a
	// command), not a failure of the server: the CLI exits 2 for it.
	BadInput bool
}

func (e *Error) Error() string {
	s := e.What
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	if e.Remedy != "" {
		s += "; " + e.Remedy
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Size limits of the files origin/ reads: each is far above what a real
// file of its kind holds, and keeps a wrong path (a device, a huge log)
// from exhausting memory.
const (
	MaxPIDFile    = 4 << 10  // a pid file holds one number
	MaxConfigFile = 16 << 20 // a server config file or a checkpoint copy of one
)

// ErrTooLarge is wrapped when a file exceeds the limit for its kind.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is wrapped when a path that must be a file is a directory,
// a device, a FIFO or a socket.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads a regular file of at most limit bytes; what names the
// file's role in the errors ("pid file", "config file"). It never blocks
// on a FIFO or reads a device: the type is checked on the open descriptor
// (opened non-blocking) before reading.
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s: %w (it is a %s)", what, path, ErrNotRegular, typeName(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s %s: %w: larger than the %s limit for a %s", what, path, ErrTooLarge, sizeString(limit), what)
	}
	return b, nil
}

func typeName(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}
