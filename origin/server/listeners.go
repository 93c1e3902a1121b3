package server

import (
	"slices"
)

// Listeners are the processes holding a listening socket on some ports:
// which processes can accept a connection right now.
type Listeners map[int]Holder // by pid

// Holder is one process holding a listening socket.
type Holder struct {
	PPID int
	// Worker is set for a process started by its server's master: its
	// parent holds the socket too (nginx, Apache) or runs the same
	// executable (the HAProxy master, which keeps no socket itself).
	Worker bool
}

// Workers are the holders that accept connections for a master, which a
// reload replaces.
func (l Listeners) Workers() []int {
	var out []int
	for pid, h := range l {
		if h.Worker {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// Generational reports whether a reload can be told apart in l: the server
// runs workers under a master, and a reload replaces them. A single
// process that reloads in place (or a view /proc hides) cannot show it.
func (l Listeners) Generational() bool { return len(l.Workers()) > 0 }

// Stale returns the workers of l that still hold a listening socket in
// now: the old generation, still able to accept connections with the old
// config. A reload is complete once none is left and now has workers.
func (l Listeners) Stale(now Listeners) []int {
	var out []int
	for _, pid := range l.Workers() {
		if _, ok := now[pid]; ok {
			out = append(out, pid)
		}
	}
	return out
}
