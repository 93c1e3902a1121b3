//go:build unix

package pki

import "syscall"

// oNonblock makes opening a FIFO return at once, so ReadRegular can refuse it
// instead of waiting for a writer.
const oNonblock = syscall.O_NONBLOCK
