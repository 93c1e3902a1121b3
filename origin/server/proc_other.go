//go:build unix && !linux

package server

import "syscall"

// procAttr puts a command in its own process group, so cancelling kills
// everything its shell started. Only Linux can also tie its life to ours.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) error { return syscall.Kill(-pid, syscall.SIGKILL) }
