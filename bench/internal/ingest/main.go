// Command ingest measures the listener's ingest cost over real loopback
// UDP and compares it with a bare receiver measured in the same run
// (`make bench-ingest`).
//
// # What is measured, and why this way
//
// The question is how much CPU the listener spends per datagram on top of
// what the kernel and a minimal batch reader cost anyway, and whether it
// keeps up with a sender running flat out. So each round runs two
// receivers, one after the other, on the same core and against the same
// traffic:
//
//   - bare: a UDP socket read with golang.org/x/net/ipv4 ReadBatch (64
//     buffers of 256 bytes) that only counts datagrams. It is the floor: the
//     system calls, copies and Go runtime cost every receiver pays.
//   - listener: the real `rgap listener` binary with one group and no
//     outputs, which decodes, verifies the HMAC, checks the clock and
//     updates the group state for every datagram. -protocol 1,2 (the
//     default) measures it twice a round, once with protocol v1 traffic
//     ("listener") and once with v2 ("listener v2"), each against the same
//     bare receiver; the report adds the v2/v1 ratio per round.
//
// The sender (this process, blasting pre-signed datagrams with sendmmsg)
// is pinned to one core and the receiver to the other (with taskset), so the
// receiver's CPU time is its own and the sender cannot be slowed by
// sharing a core with it. Receiver CPU time is utime+stime from
// /proc/<pid>/stat, sampled just before the sender starts and once the
// receiver has drained its socket (its queue in /proc/net/udp is empty and
// its CPU time stopped growing), so start-up and shutdown are not counted.
// The kernel's softirq work of delivering a loopback datagram runs on the
// sender's core, which is the same for both receivers.
//
// Rounds alternate which receiver goes first, so a machine that warms up
// or slows down over the run does not favour one of them. The report shows
// every round and the min/median/max over rounds; the verdict uses medians
// for the CPU ratio and every round for drops.
//
// A receiver that keeps up sleeps and wakes between small batches, one that
// falls behind reads full batches without sleeping; the second costs less
// CPU per datagram. So the ratio is only fair when both receivers are in
// the same state, and the report shows drops and how much other work ran on
// the receiver's core next to it.
//
// The bare receiver is this program re-executed with -mode bare under
// taskset; it reports its address and count on its standard output. To profile the listener, run `perf record -g -p PID`
// on it (Go keeps frame pointers). All traffic goes to 127.0.0.1.
package ingest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// Settings and goal of the measurement.
const (
	// bareReceiveBuffer is the bare receiver's SO_RCVBUF request.
	bareReceiveBuffer = 4 << 20
	// listenerReceiveBuffer is the listener's receive_buffer setting.
	listenerReceiveBuffer = 8 << 20
	// goalRatio is the largest acceptable listener/bare CPU per datagram.
	goalRatio = 1.25
)

// Run is the ingest subcommand; its exit status is harness.Bench.Run's.
func Run(args []string, stdout, stderr io.Writer) int {
	var o orchestrateOptions
	var protocols string
	return harness.Bench{
		Name: "ingest", Summary: "Measures rgap listener CPU per datagram against a bare batch receiver over loopback UDP.",
		Rounds: 3, Timeout: 180 * time.Second,
		Flags: func(fs *flag.FlagSet) {
			fs.Uint64Var(&o.datagrams, "n", 2_000_000, "datagrams sent per receiver and round")
			fs.IntVar(&o.batch, "batch", 64, "datagrams per sendmmsg call")
			fs.IntVar(&o.senderCPU, "sender-cpu", 0, "CPU the sender is pinned to")
			fs.IntVar(&o.receiverCPU, "receiver-cpu", 1, "CPU the receivers are pinned to")
			fs.StringVar(&protocols, "protocol", "1,2", "protocol versions of the listener's traffic, each measured every round: 1, 2 or 1,2")
		},
		Check: func(harness.Common) error {
			if o.protocols = protocolSets[protocols]; o.protocols == nil {
				return fmt.Errorf("-protocol %q: want 1, 2 or 1,2", protocols)
			}
			return nil
		},
		Measure: func(ctx context.Context, c harness.Common, out io.Writer) (bool, error) {
			o.Common = c
			v, err := orchestrate(ctx, o, out)
			return v.pass(), err
		},
		Roles: map[string]harness.Role{
			"bare": func(ctx context.Context, _ harness.Common, out io.Writer) error {
				return runBare(ctx, out)
			},
		},
	}.Run(args, stdout, stderr)
}

// protocolSets are the values of -protocol.
var protocolSets = map[string][]int{"1": {1}, "2": {2}, "1,2": {1, 2}}

// listenerKind is the receiver kind of the listener fed protocol p.
func listenerKind(p int) string {
	if p == 1 {
		return kindListener
	}
	return kindListener + " v" + strconv.Itoa(p)
}
