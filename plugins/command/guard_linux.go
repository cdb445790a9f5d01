package command

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// guardExe is the executable started as the guard: the one running now,
// whatever happened to its path since.
func guardExe() string { return "/proc/self/exe" }

// guardSysProcAttr starts the guard in its own process group (a kill of the
// plugin's group must leave it time to stop the program) with a parent-death
// signal it handles by stopping the program.
func guardSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// programSysProcAttr starts the program in a new process group, killed
// outright should the guard itself be killed.
func programSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER of prctl(2).
const prSetChildSubreaper = 36

// becomeSubreaper makes orphaned descendants re-parent to this process.
func becomeSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

func dupOnto(oldfd, newfd int) error { return syscall.Dup3(oldfd, newfd, 0) }

// childrenOf lists the live child processes of pid.
func childrenOf(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The name in parentheses may hold anything: parse after the last ')'.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) && f[0] != "Z" {
			kids = append(kids, child)
		}
	}
	return kids
}
