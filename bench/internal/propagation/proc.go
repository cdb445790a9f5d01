package propagation

import (
	"errors"
	"fmt"
	"os"

	promfs "github.com/prometheus/procfs"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// errNotOurPlugin is returned when a PID named in a record no longer is
// the plugin child of our listener (it exited, or the PID was reused).
var errNotOurPlugin = errors.New("not the benchmark's plugin process")

// checkPluginProcess makes sure pid is a child of parent running the
// executable at path, before the orchestrator sends it SIGKILL.
func checkPluginProcess(pid, parent int, path string) error {
	st, err := procfs.Read(pid, "stat", promfs.Proc.Stat)
	if err != nil {
		return fmt.Errorf("process %d: %w: %w", pid, errNotOurPlugin, err)
	}
	if st.PPID != parent {
		return fmt.Errorf("process %d: %w: its parent is %d, not the listener %d", pid, errNotOurPlugin, st.PPID, parent)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Errorf("process %d: %w: %w", pid, errNotOurPlugin, err)
	}
	if exe != path {
		return fmt.Errorf("process %d: %w: it runs %s, not %s", pid, errNotOurPlugin, exe, path)
	}
	return nil
}
