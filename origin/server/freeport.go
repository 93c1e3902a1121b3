package server

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeLoopbackAddr is a 127.0.0.1 address whose port was free a moment
// ago, for a server started next (the demo's origin, a test's). It is
// picked below the kernel's ephemeral range: a port the kernel hands out
// for 127.0.0.1:0 may go to any outgoing connection on the machine before
// the server binds it ("address already in use" under load).
func FreeLoopbackAddr() (string, error) {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 12000 {
				lo = n
			}
		}
	}
	var err error
	for range 100 {
		var l net.Listener
		if l, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(lo-10000)))); err == nil {
			addr := l.Addr().String()
			return addr, l.Close()
		}
	}
	return "", fmt.Errorf("no free port on 127.0.0.1 below %d: %w", lo, err)
}
