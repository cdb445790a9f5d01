//go:build unix

package health

import (
	"os/exec"
	"syscall"
)

// ownGroup makes cmd the leader of a new process group and has the
// context's cancellation kill that whole group.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
