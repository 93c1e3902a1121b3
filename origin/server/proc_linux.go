package server

import "syscall"

// procAttr puts a command in its own process group, so cancelling kills
// everything its shell started, and has the kernel kill it when aopwizard
// dies (even by SIGKILL, where no clean-up of ours runs). Pdeathsig fires
// when the forking thread exits; Go keeps its threads unless a goroutine
// exits locked to one, which this package never does.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
