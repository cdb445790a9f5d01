// Command footprint measures the idle memory of a running rgap listener
// and its output plugin processes (`make bench-memory`) against two goals:
// at most goalTotalPSS of PSS for the listener and all its plugins together
// running the reference configuration, and at most goalPluginRSS of RSS
// for any one plugin process.
//
// # Why PSS and RSS, and what they say
//
// RSS counts every page a process has mapped, including pages of the rgap
// executable that all seven processes share: summed over processes it
// counts the same memory seven times. PSS divides each shared page among
// the processes that map it, so the PSS of all processes adds up to what
// they really cost the machine. The report splits RSS into anonymous
// memory (Go heap, stacks, runtime structures: private to each process)
// and file-backed memory (the executable and libc: shared), because the
// two shrink by different means: GC settings and fewer allocations for the
// first, a smaller executable for the second.
//
// # Why a network namespace
//
// The reference configuration joins multicast group 239.82.71.65 and binds
// fixed ports (8253, 8271, 8282). To run it unchanged without touching the
// host's network, each round starts the listener under `unshare -n`: a
// private network namespace holding only a loopback interface, which a
// shell brings up with multicast enabled and a route for 239.0.0.0/8
// before it executes the listener in its place, so the listener starts
// exactly as it would on a server and the PID measured is its own. This
// needs root.
//
// # How a round runs
//
// Each round copies the configuration into a fresh directory (outputs that
// write files, such as hostsfile, write there), starts `rgap listener`,
// waits until it has one plugin process per configured output and that set
// has stayed the same for a moment (the listener first starts each plugin
// briefly to check its settings), lets it idle (-idle), and reads
// /proc/PID/smaps_rollup of the listener and each plugin. Nothing is
// announced: this is the idle floor. Rounds are independent starts; the
// verdict uses the median over rounds.
package memory

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// Goals, from the issues. "MB" is read as MiB (1,048,576 bytes).
const (
	goalTotalPSS  = 40 << 20
	goalPluginRSS = 12 << 20
)

// Run is the memory subcommand; its exit status is harness.Bench.Run's.
func Run(args []string, stdout, stderr io.Writer) int {
	var o options
	return harness.Bench{
		Name: "memory", Summary: "Measures the idle PSS and RSS of rgap listener and its output plugins (runs in a private network namespace; needs root).",
		Rounds: 3, Timeout: 150 * time.Second,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&o.config, "config", "../internal/config/testdata/reference.yaml", "listener configuration to run (copied into a temporary directory)")
			fs.DurationVar(&o.idle, "idle", 10*time.Second, "idle time after every plugin is up, before memory is read")
		},
		Check: func(harness.Common) error {
			if o.idle < 0 {
				return fmt.Errorf("-idle %v: want >= 0", o.idle)
			}
			return nil
		},
		Measure: func(ctx context.Context, c harness.Common, out io.Writer) (bool, error) {
			o.Common = c
			return measure(ctx, o, out)
		},
	}.Run(args, stdout, stderr)
}

// options are the flags.
type options struct {
	harness.Common
	config string
	idle   time.Duration
}
