package memory

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// netnsScript runs in the fresh network namespace `unshare -n` made: it
// makes its loopback interface usable for the listener (up,
// multicast-capable, and the route for 239.0.0.0/8 the reference
// configuration's multicast group needs), then executes its arguments in
// its place. The namespace holds nothing else, so this never changes, or
// joins multicast on, the host's network.
const netnsScript = `ip link set lo up && ip link set lo multicast on && ip route add 239.0.0.0/8 dev lo && exec "$@"`

// inNetns returns argv run in a private network namespace set up by
// netnsScript.
func inNetns(argv ...string) []string {
	return append([]string{"unshare", "-n", "--", "sh", "-c", netnsScript, "sh"}, argv...)
}

// checkEnvironment reports what makes the run impossible: not root, a
// missing tool, rgap binary or configuration file.
func checkEnvironment(o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not root: the reference configuration joins multicast and binds fixed ports, so the listener runs "+
			"in a private network namespace (unshare -n), which needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN); run it as root or with sudo", harness.ErrEnvironment)
	}
	for _, tool := range []string{"unshare", "ip", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found; it sets up the private network namespace (Debian: apt-get install util-linux iproute2): %w", harness.ErrEnvironment, tool, err)
		}
	}
	if err := harness.CheckBinary(o.RGAP); err != nil {
		return err
	}
	if _, err := os.Stat(o.config); err != nil {
		return fmt.Errorf("%w: configuration: %w (run from the repository root, or pass -config)", harness.ErrEnvironment, err)
	}
	return nil
}
