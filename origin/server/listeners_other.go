//go:build !linux

package server

import "errors"

// ListenersOn needs Linux's /proc; elsewhere callers fall back to
// handshakes alone.
func ListenersOn(ports []int) (Listeners, error) {
	return nil, errors.ErrUnsupported
}
