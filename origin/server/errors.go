package server

import (
	"github.com/aopwizard/aopwizard/origin/render"
	"github.com/aopwizard/aopwizard/pki"
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
	MaxPIDFile    = 4 << 10              // a pid file holds one number
	MaxConfigFile = render.MaxConfigFile // a server config file or a checkpoint copy of one
)

// ErrTooLarge is wrapped when a file exceeds the limit for its kind.
var ErrTooLarge = pki.ErrTooLarge

// ErrNotRegular is wrapped when a path that must be a file is a directory,
// a device, a FIFO or a socket.
var ErrNotRegular = pki.ErrNotRegular

// ReadFile reads a regular file of at most limit bytes; what names the
// file's role in the errors ("pid file", "config file"). It is
// pki.ReadRegular: it never blocks on a FIFO or reads a device.
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	return pki.ReadRegular(path, limit, what)
}
