// Command dns measures the dns output of a real `rgap listener` over
// loopback (`make bench-dns`) against two goals:
//
//   - throughput: queries per second answered by the dns output, at least
//     goalRatio of what a bare miekg/dns responder answers on the same
//     machine in the same run;
//   - propagation: from an announcement leaving an agent to its address
//     appearing in a DNS answer, p99 at most goalP99.
//
// # Throughput, and why this way
//
// dnsperf is the load generator because it is the tool operators use, it
// keeps a fixed number of queries outstanding, and it is not written in Go,
// so it does not share a runtime's quirks with the servers it measures. The
// two servers answer the same one-line query file:
//
//   - bare: this program in -mode bare, a miekg/dns UDP server whose handler
//     answers every query with one fixed A record. It is the floor of what
//     any miekg/dns server costs per query (socket, parsing, packing).
//   - rgap: `rgap listener` with one group of three members and one dns
//     output mapping a name to that group. The answer comes from the
//     plugin's mirror of the group, with its members shuffled.
//
// Each server runs under `taskset -c SERVER_CPU` (the listener's plugin
// processes inherit the mask, and Go sizes GOMAXPROCS from it, so both
// servers get exactly one core) and dnsperf under `taskset -c CLIENT_CPU`,
// as does this orchestrator. Rounds alternate which server goes first, so
// a machine that warms up or gets busier over the run favours neither. The
// verdict compares the medians over rounds. The report also shows the CPU
// the server used and what else ran on its core: a server that did not use
// its whole core was limited by the client or by a neighbour, and its rate
// then says little.
//
// # Propagation
//
// A second listener (unpinned: this measures a delay, not a cost) maps
// several names to several groups. For each sample the orchestrator sends
// one signed announcement of a new address over loopback and queries the
// name over UDP in a tight loop until an answer holds that address. The
// latency is the time from just before the datagram is sent until that
// answer arrives, which includes the listener's verification, the group
// update, the gRPC stream to the plugin, the SDK mirror update, and one DNS
// round trip. Each name receives at most perName addresses so that every
// answer carries the whole group (a large group gets a random subset in UDP,
// which would hide a new address behind sampling). Samples are spaced by a
// random pause so that they do not lock in phase with any timer.
//
// Every process this program starts is stopped (its children too) when it
// returns, fails, or is interrupted; all traffic stays on 127.0.0.1.
package dns

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/rgap-project/rgap/bench/internal/harness"
)

// Goals, from the issue.
const (
	// goalRatio is the smallest acceptable rgap/bare median queries per
	// second.
	goalRatio = 0.9
	// goalP99 is the largest acceptable 99th percentile of the
	// announcement-to-answer latency.
	goalP99 = 5 * time.Millisecond
)

// Run is the dns subcommand; its exit status is harness.Bench.Run's.
func Run(args []string, stdout, stderr io.Writer) int {
	var o options
	return harness.Bench{
		Name: "dns", Summary: "Measures the rgap dns output: dnsperf throughput against a bare miekg/dns responder,\n" +
			"and the time from an announcement to its address in a DNS answer.",
		Rounds: 3, Timeout: 170 * time.Second,
		Flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&o.duration, "duration", 10*time.Second, "dnsperf run time per server and round (whole seconds)")
			fs.IntVar(&o.outstanding, "outstanding", 200, "dnsperf -q: queries kept outstanding")
			fs.IntVar(&o.clientCPU, "client-cpu", 0, "CPU dnsperf and this orchestrator are pinned to")
			fs.IntVar(&o.serverCPU, "server-cpu", 1, "CPU the server under test is pinned to")
			fs.IntVar(&o.samples, "samples", 300, "propagation samples")
			fs.IntVar(&o.warmup, "warmup", 10, "propagation samples taken first and not counted")
		},
		Measure: func(ctx context.Context, c harness.Common, out io.Writer) (bool, error) {
			o.Common = c
			return orchestrate(ctx, o, out)
		},
		Roles: map[string]harness.Role{
			"bare": func(ctx context.Context, _ harness.Common, out io.Writer) error {
				return runBare(ctx, "127.0.0.1:0", out)
			},
		},
	}.Run(args, stdout, stderr)
}
