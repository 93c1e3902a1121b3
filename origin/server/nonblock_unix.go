//go:build unix

package server

import "syscall"

// oNonblock makes opening a FIFO return at once, so ReadFile can refuse it
// instead of waiting for a writer.
const oNonblock = syscall.O_NONBLOCK
