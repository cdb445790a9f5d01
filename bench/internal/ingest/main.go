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
//     updates the group state for every datagram.
//
// The sender (one process blasting pre-signed datagrams with sendmmsg) is
// pinned to one core and the receiver to the other with taskset, so the
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
// the receiver's core next to it. -rate paces the sender below saturation
// to compare the two in the keeping-up state.
//
// The roles are one binary: the orchestrator (the default mode)
// re-executes itself with -mode bare and -mode send under taskset, and
// talks to those children through single-line messages on their standard
// input and output. -listener-cpuprofile swaps bin/rgap for -mode listener,
// which runs the same listener.Run in-process under the CPU profiler, so
// the product needs no profiling flag. All traffic goes to 127.0.0.1.
package ingest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"
)

// Defaults of the measurement; each has a flag.
const (
	defaultDatagrams = 2_000_000
	defaultRounds    = 3
	defaultBatch     = 64
	// bareReceiveBuffer is the bare receiver's SO_RCVBUF request.
	bareReceiveBuffer = 4 << 20
	// listenerReceiveBuffer is the listener's receive_buffer setting.
	listenerReceiveBuffer = 8 << 20
	// goalRatio is the largest acceptable listener/bare CPU per datagram.
	goalRatio = 1.25
)

// Run parses the command line and executes one mode. It returns the exit
// status: 0 on a completed measurement (whatever its verdict, unless
// -strict), 1 when it failed or -strict saw a FAIL, 2 on bad usage.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		mode     = fs.String("mode", "orchestrate", "orchestrate; or a child role: bare (receiver), send (sender), listener (in-process listener for profiling)")
		rgap     = fs.String("rgap", "../bin/rgap", "path of the rgap binary whose listener is measured")
		n        = fs.Uint64("n", defaultDatagrams, "datagrams sent per receiver and round")
		rounds   = fs.Int("rounds", defaultRounds, "rounds; each measures both receivers")
		batch    = fs.Int("batch", defaultBatch, "datagrams per sendmmsg call (send mode and the sender child)")
		rate     = fs.Uint64("rate", 0, "datagrams per second the sender paces itself to; 0 means its full rate")
		sendCPU  = fs.Int("sender-cpu", 0, "CPU the sender is pinned to")
		recvCPU  = fs.Int("receiver-cpu", 1, "CPU the receivers are pinned to")
		timeout  = fs.Duration("timeout", 110*time.Second, "bound on the whole run")
		strict   = fs.Bool("strict", false, "exit 1 when a goal is missed")
		profile  = fs.String("listener-cpuprofile", "", "profile the listener into FILE.<round>; it then runs in-process (-mode listener, the same listener.Run) instead of as -rgap; in listener mode: the profile file")
		addr     = fs.String("addr", "127.0.0.1:0", "bare mode: loopback address to listen on")
		rcvbuf   = fs.Int("rcvbuf", bareReceiveBuffer, "bare mode: SO_RCVBUF request in bytes")
		target   = fs.String("target", "", "send mode: destination host:port (loopback only)")
		cfgPath  = fs.String("c", "", "listener mode: configuration file")
		verbose  = fs.Bool("v", false, "orchestrator: log each step to stderr")
		showHelp = fs.Bool("h", false, "show this help")
	)
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: go run . ingest [flags]   (in bench/)\n\nMeasures rgap listener CPU per datagram against a bare batch receiver over loopback UDP.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showHelp {
		fs.Usage()
		return 0
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "bench-ingest: unexpected arguments %q\n", fs.Args())
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var err error
	switch *mode {
	case "orchestrate":
		var res verdict
		res, err = orchestrate(ctx, orchestrateOptions{
			rgap:        *rgap,
			datagrams:   *n,
			rounds:      *rounds,
			batch:       *batch,
			rate:        *rate,
			senderCPU:   *sendCPU,
			receiverCPU: *recvCPU,
			timeout:     *timeout,
			cpuProfile:  *profile,
			progress:    progressWriter(*verbose, stderr),
		}, stdout)
		if err == nil && *strict && !res.pass() {
			return 1
		}
	case "bare":
		err = runBare(ctx, *addr, *rcvbuf, stdout)
	case "send":
		err = runSend(sendOptions{target: *target, n: *n, batch: *batch, rate: *rate}, stdin, stdout)
	case "listener":
		err = runInProcessListener(ctx, *cfgPath, *profile, stderr)
	default:
		_, _ = fmt.Fprintf(stderr, "bench-ingest: unknown -mode %q (want orchestrate, bare, send or listener)\n", *mode)
		return 2
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "bench-ingest %s: %v\n", *mode, err)
		return 1
	}
	return 0
}

// progressWriter returns where the orchestrator narrates its steps.
func progressWriter(verbose bool, stderr io.Writer) io.Writer {
	if verbose {
		return stderr
	}
	return io.Discard
}
