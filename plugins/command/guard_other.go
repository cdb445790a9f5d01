//go:build !linux

package command

import (
	"os"
	"syscall"
)

// Outside Linux there is no parent-death signal, no child subreaper and no
// /proc: the guard still runs the program in its own process group, stops
// it on SIGTERM and notices its parent going away by polling.

func guardExe() string {
	exe, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return exe
}

func guardSysProcAttr() *syscall.SysProcAttr   { return &syscall.SysProcAttr{Setpgid: true} }
func programSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
func becomeSubreaper() error                   { return nil }
func dupOnto(oldfd, newfd int) error           { return syscall.Dup2(oldfd, newfd) }
func childrenOf(int) []int                     { return nil }
