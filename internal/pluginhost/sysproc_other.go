//go:build unix && !linux

package pluginhost

import "syscall"

// sysProcAttr puts the plugin in its own process group. There is no
// parent-death signal here; the SDK's parent watch covers that case.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
