package pluginhost

import "syscall"

// sysProcAttr puts the plugin in its own process group (so the whole group
// can be killed) and asks the kernel to SIGKILL it when the spawner thread,
// which lives as long as the listener, dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
