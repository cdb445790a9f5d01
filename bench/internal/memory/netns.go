package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	promfs "github.com/prometheus/procfs"

	"github.com/rgap-project/rgap/bench/internal/child"
	"github.com/rgap-project/rgap/bench/internal/harness"
)

// reexecInNetns runs this program again with -mode netns under
// `unshare -n`, passing args through, with its output going to ours.
func reexecInNetns(ctx context.Context, o options, args []string, stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: not root: the reference configuration joins multicast and binds fixed ports, so the listener runs "+
			"in a private network namespace (unshare -n), which needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN); run it as root or with sudo", harness.ErrEnvironment)
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found; it sets up the private network namespace (Debian: apt-get install util-linux iproute2): %w", harness.ErrEnvironment, tool, err)
		}
	}
	if err := checkInputs(o); err != nil {
		return err
	}
	self, err := child.Self(args...)
	if err != nil {
		return err
	}
	argv := append([]string{"unshare", "-n", "--"}, self...)
	argv = append(argv, "-mode", "netns") // the last -mode wins
	if _, err := fmt.Fprintf(stdout, "  re-executed as: %s\n", strings.Join(argv, " ")); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...) //nolint:gosec // this program re-executed with its own arguments under unshare -n
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// On timeout or interrupt: SIGTERM first, so that the inner run stops
	// its listener (which stops its plugins) itself.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = child.StopTimeout + startTimeout
	if err := cmd.Run(); err != nil {
		child.KillTree(cmd.Process.Pid) // whatever is left after the grace period
		return err
	}
	return nil
}

// exitCode returns the exit status of a child that ran and failed.
func exitCode(err error) (int, bool) {
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return ee.ExitCode(), true
	}
	return 0, false
}

// checkInputs reports a missing rgap binary or configuration file.
func checkInputs(o options) error {
	if err := harness.CheckBinary(o.RGAP); err != nil {
		return err
	}
	if _, err := os.Stat(o.config); err != nil {
		return fmt.Errorf("%w: configuration: %w (run from the repository root, or pass -config)", harness.ErrEnvironment, err)
	}
	return nil
}

// setupLoopback makes the loopback interface of a fresh network namespace
// usable for the listener: up, multicast-capable, and the route for
// 239.0.0.0/8 the reference configuration's multicast group needs. It
// refuses to run in a namespace with any other interface, so that it never
// changes, or joins multicast on, the host's network.
func setupLoopback(ctx context.Context) error {
	// /proc/net follows this process's namespace (unlike /sys, which
	// shows the namespace it was mounted in).
	fs, err := promfs.NewDefaultFS()
	if err != nil {
		return err
	}
	ifaces, err := fs.NetDev()
	if err != nil {
		return fmt.Errorf("list network interfaces: %w", err)
	}
	for name := range ifaces {
		if name != "lo" {
			return fmt.Errorf("%w: interface %s exists: -mode netns runs only in a private network namespace holding just lo (the default mode creates one)",
				harness.ErrEnvironment, name)
		}
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "set", "lo", "multicast", "on"},
		{"route", "add", "239.0.0.0/8", "dev", "lo"},
	} {
		if out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput(); err != nil { //nolint:gosec // the fixed ip(8) commands listed above
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
