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
// they really cost the machine. The report splits both into anonymous
// memory (Go heap, stacks, runtime structures: private to each process)
// and file-backed memory (the executable and libc: shared), because the
// two shrink by different means: GC settings and fewer allocations for the
// first, a smaller executable for the second.
//
// # Why a network namespace
//
// The reference configuration joins multicast group 239.82.71.65 and binds
// fixed ports (8253, 8271, 8282). To run it unchanged without touching the
// host's network, the orchestrator re-executes itself under `unshare -n`
// (-mode netns): a private network namespace holding only a loopback
// interface, brought up with multicast enabled and a route for 239.0.0.0/8,
// so the listener starts exactly as it would on a server. This needs root.
//
// # How a round runs
//
// Each round copies the configuration into a fresh directory (outputs that
// write files, such as hostsfile, write there), starts `rgap listener`,
// waits until it has one plugin process per configured output and that set
// has stayed the same for a moment (the listener first starts each plugin
// briefly to check its settings), lets it idle, and reads
// /proc/PID/smaps_rollup of the listener and each plugin. Nothing is
// announced: this is the idle floor. Rounds are independent starts; the
// verdict uses the median over rounds.
//
// # Working set
//
// RSS counts every page a process maps, including pages of the shared
// executable it touched once while starting (the kernel maps file pages
// in 64 KiB runs around each fault) and never again. To tell that from
// what a process keeps using, the tool clears the processes' referenced
// bits (/proc/PID/clear_refs) at the end of the idle time, waits -window,
// and reports, next to RSS and PSS, the pages each process touched in
// that window (smaps_rollup's Referenced): its idle working set. The
// process is not changed in any way; only the kernel's accessed bits are
// reset.
//
// With -alone, each plugin kind is also started by itself (the go-plugin
// handshake only, no listener and no stream) with the -env variables in
// its own environment. The listener passes only an allowlist of variables
// (PATH, HOME, TMPDIR, TZ, LANG, LANGUAGE, LC_*) to its plugins, so this is
// how the effect of GOGC, GOMEMLIMIT or GODEBUG on a plugin can be
// measured without changing the listener.
package memory

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Goals, from the issues. "MB" is read as MiB (1,048,576 bytes).
const (
	goalTotalPSS  = 40 << 20
	goalPluginRSS = 12 << 20
)

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(s string) error {
	k, _, ok := strings.Cut(s, "=")
	if !ok || k == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("%q: want KEY=VALUE", s)
	}
	*e = append(*e, s)
	return nil
}

// keys returns the variable names of e.
func (e envList) keys() []string {
	out := make([]string, len(e))
	for i, kv := range e {
		out[i], _, _ = strings.Cut(kv, "=")
	}
	return out
}

// Run parses the command line and executes one mode. It returns the exit
// status: 0 on a completed measurement (whatever its verdict, unless
// -strict), 1 when it failed or -strict saw a FAIL, 2 on bad usage.
func Run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-memory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	mode := fs.String("mode", "orchestrate", "orchestrate; or netns: measure inside the current (private) network namespace")
	fs.StringVar(&o.rgap, "rgap", "../bin/rgap", "path of the rgap binary to measure")
	fs.StringVar(&o.config, "config", "../internal/config/testdata/reference.yaml", "listener configuration to run (copied into a temporary directory)")
	fs.IntVar(&o.rounds, "rounds", 3, "independent listener starts")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "idle time after every plugin is up, before the working-set window")
	fs.DurationVar(&o.window, "window", 5*time.Second, "working-set window: memory is read this long after the referenced bits were cleared")
	fs.Var(&o.env, "env", "KEY=VALUE added to the listener's environment, and to plugins started with -alone (repeatable)")
	fs.BoolVar(&o.alone, "alone", false, "also start each plugin kind by itself (handshake only) with the -env variables, and measure it")
	fs.BoolVar(&o.detail, "detail", false, "break RSS and PSS down by mapping (executable text, rodata, data, heap, libc, stacks) for the listener and one plugin")
	fs.DurationVar(&o.timeout, "timeout", 150*time.Second, "bound on the whole run")
	strict := fs.Bool("strict", false, "exit 1 when a goal is missed")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "Usage: go run . memory [flags]   (in bench/)\n\n"+
			"Measures the idle PSS and RSS of rgap listener and its output plugins (runs in a private network namespace; needs root).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "bench-memory: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := o.validate(); err != nil {
		_, _ = fmt.Fprintf(stderr, "bench-memory: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	limit := o.timeout
	if *mode == "orchestrate" {
		limit += stopTimeout + 5*time.Second // the inner run's own bound comes first
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()

	var pass bool
	var err error
	switch *mode {
	case "orchestrate":
		err = reexecInNetns(ctx, o, args, stdout, stderr)
		if code, ok := exitCode(err); ok {
			return code // the inner run has said what went wrong
		}
		pass = err == nil
	case "netns":
		pass, err = measureInNetns(ctx, o, stdout)
	default:
		_, _ = fmt.Fprintf(stderr, "bench-memory: unknown -mode %q (want orchestrate or netns)\n", *mode)
		return 2
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "bench-memory: %v\n", err)
		return 1
	}
	if *strict && !pass {
		return 1
	}
	return 0
}

// options are the flags.
type options struct {
	rgap, config  string
	rounds        int
	idle, timeout time.Duration
	window        time.Duration
	env           envList
	alone, detail bool
}

func (o options) validate() error {
	switch {
	case o.rounds < 1:
		return fmt.Errorf("-rounds %d: want at least 1", o.rounds)
	case o.idle < 0:
		return fmt.Errorf("-idle %v: want >= 0", o.idle)
	case o.window <= 0:
		return fmt.Errorf("-window %v: want > 0", o.window)
	case o.timeout <= 0:
		return fmt.Errorf("-timeout %v: want > 0", o.timeout)
	}
	return nil
}
