package propagation

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
	"github.com/rgap-project/rgap/bench/internal/procfs"
)

// errNotOurPlugin is returned when a PID named in a record no longer is
// the plugin child of our listener (it exited, or the PID was reused).
var errNotOurPlugin = errors.New("not the benchmark's plugin process")

// checkPluginProcess makes sure pid is a child of parent running the
// executable at path, before the orchestrator sends it SIGKILL.
func checkPluginProcess(pid, parent int, path string) error {
	st, err := procfs.ReadStat(pid)
	if errors.Is(err, procfs.ErrFormat) {
		return err
	}
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

// usage samples the machine and some processes to tell, over a span, how
// busy the machine was and how much of that was ours.
type usage struct {
	noise harness.Noise
	cpu   time.Duration
	pids  []int
}

// sampleUsage starts a span and reads the CPU time of pids.
func sampleUsage(pids ...int) (usage, error) {
	u := usage{pids: pids}
	var err error
	if u.noise, err = harness.StartNoise(-1); err != nil {
		return u, err
	}
	u.cpu, err = cpuOf(pids)
	return u, err
}

func cpuOf(pids []int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		c, err := procfs.ProcessCPU(pid)
		if err != nil {
			return 0, err
		}
		total += c
	}
	return total, nil
}

// since returns, over the span from u0 to now, the share of all CPUs that
// was busy and the CPU time pids used.
func (u0 usage) since() (busyShare float64, cpu time.Duration, err error) {
	if _, busyShare, err = u0.noise.Busy(); err != nil {
		return 0, 0, err
	}
	cpu, err = cpuOf(u0.pids)
	return busyShare, cpu - u0.cpu, err
}
