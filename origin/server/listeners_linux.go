package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ListenersOn finds the processes holding a listening TCP socket (IPv4 or
// IPv6) on any of ports, from /proc: the sockets' inodes in /proc/net/tcp*,
// then the processes whose descriptors point at them. Processes whose
// descriptors this user may not read are missed, so run it as the
// server's user or root.
func ListenersOn(ports []int) (Listeners, error) {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listenInodes(f, ports, inodes); err != nil {
			return nil, err
		}
	}
	out := Listeners{}
	if len(inodes) == 0 {
		return out, nil
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue // exited, or not ours to read
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] {
				if ppid, err := parentPID(pid); err == nil {
					out[pid] = Holder{PPID: ppid}
				}
				break
			}
		}
	}
	for pid, h := range out {
		_, parentHolds := out[h.PPID]
		h.Worker = parentHolds || sameExe(pid, h.PPID)
		out[pid] = h
	}
	return out, nil
}

func sameExe(a, b int) bool {
	ea, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(a), "exe"))
	if err != nil {
		return false
	}
	eb, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(b), "exe"))
	return err == nil && ea == eb
}

// listenInodes adds the inodes of the LISTEN sockets on ports in a
// /proc/net/tcp-format file.
func listenInodes(path string, ports []int, into map[string]bool) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil // no IPv6
	}
	if err != nil {
		return err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, p := range ports {
		want[fmt.Sprintf("%04X", p)] = true
	}
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		if i := strings.LastIndexByte(fields[1], ':'); i >= 0 && want[fields[1][i+1:]] {
			into[fields[9]] = true
		}
	}
	return sc.Err()
}

func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	return strconv.Atoi(fields[1])
}
